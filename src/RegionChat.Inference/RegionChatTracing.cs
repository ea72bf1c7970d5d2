using System.Diagnostics;

namespace RegionChat.Inference;

/// <summary>
/// The core's spans on the activity source <see cref="SourceName"/>: one per chat turn ("chat MODEL"), classification
/// ("classify MODEL") and embedding ("embeddings MODEL"), tagged with OpenTelemetry's gen_ai conventions (model, tokens,
/// finish reason, conversation id) and RegionChat's stage timings. A host that listens to the source exports them (the
/// server with RegionChat:OtlpTracesEndpoint); without a listener no span is made.
/// </summary>
public static class RegionChatTracing
{
    public const string SourceName = "RegionChat";
    internal static readonly ActivitySource Source = new(SourceName);

    /// <summary>Starts a span for an operation on a model ("" = the default one, named once known).</summary>
    internal static Activity? Start(string operation, string model, string requestId)
    {
        var activity = Source.StartActivity(model.Length > 0 ? $"{operation} {model}" : operation);
        if (activity == null) return null;
        activity.SetTag("gen_ai.operation.name", operation);
        activity.SetTag("gen_ai.system", "regionchat");
        if (model.Length > 0) activity.SetTag("gen_ai.request.model", model);
        if (requestId.Length > 0) activity.SetTag("regionchat.request_id", requestId);
        return activity;
    }

    /// <summary>Names the span by the model that answered (the request may have left it to the default).</summary>
    internal static void Answered(Activity? activity, string operation, string model)
    {
        if (activity == null) return;
        activity.DisplayName = $"{operation} {model}";
        activity.SetTag("gen_ai.response.model", model);
    }

    internal static void Failed(Activity? activity, Exception e)
    {
        if (activity == null) return;
        activity.SetStatus(ActivityStatusCode.Error, e.Message);
        activity.SetTag("error.type", e is RegionChatCoreException c ? c.Kind.ToString() : e.GetType().Name);
    }
}
