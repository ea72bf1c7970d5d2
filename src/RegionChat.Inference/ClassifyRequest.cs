namespace RegionChat.Inference;

/// <summary>
/// Zero-shot classification for <see cref="RegionChatCore.ClassifyAsync"/>: one image, one or more regions of it, and the
/// labels to score every region against (each label through the model's prompt templates).
/// </summary>
public sealed record ClassifyRequest
{
    /// <summary>The model id; "" = the default model.</summary>
    public string Model { get; init; } = "";
    public required ImageInput Image { get; init; }
    /// <summary>The regions, each classified on its own; empty = the whole image once.</summary>
    public IReadOnlyList<RegionSource> Regions { get; init; } = [];
    /// <summary>The labels; empty when <see cref="LabelSet"/> names a stored set.</summary>
    public IReadOnlyList<string> Labels { get; init; } = [];
    /// <summary>A stored label set's id (<see cref="RegionChatCoreOptions.LabelSets"/>) instead of <see cref="Labels"/>; "" = none.</summary>
    public string LabelSet { get; init; } = "";
    /// <summary>How many labels to return per region, best first; 0 = all.</summary>
    public int Top { get; init; }
    /// <summary>The request's field paths, for errors.</summary>
    public ClassifyFields Fields { get; init; } = new();
    public string RequestId { get; init; } = "";
}

/// <summary>Field paths of a classify request as the transport names them (gRPC: "regions[1].box"; /v1 the same).</summary>
public sealed record ClassifyFields
{
    public string Model { get; init; } = "model";
    public string Image { get; init; } = "image";
    public string ImageData { get; init; } = "image.data";
    public string Labels { get; init; } = "labels";
    public string LabelSet { get; init; } = "label_set";
    public string Top { get; init; } = "top";
    public string Regions { get; init; } = "regions";
    /// <summary>The field of region i.</summary>
    public Func<int, string> Region { get; init; } = i => $"regions[{i}]";

    /// <summary>The fields under <paramref name="prefix"/>, e.g. "request." for a ClassifyStream item ("request.labels[1]").</summary>
    public static ClassifyFields Prefixed(string prefix) => prefix.Length == 0 ? new() : new()
    {
        Model = prefix + "model", Image = prefix + "image", ImageData = prefix + "image.data", Labels = prefix + "labels",
        LabelSet = prefix + "label_set", Top = prefix + "top", Regions = prefix + "regions", Region = i => $"{prefix}regions[{i}]",
    };
}

/// <summary>The outcome: per region (in request order) its labels ranked best first.</summary>
public sealed record ClassifyResult(string Model, IReadOnlyList<RegionLabels> Regions, ClassifyTimings Timings);

/// <summary>One region's ranked labels.</summary>
public sealed record RegionLabels(IReadOnlyList<LabelScore> Labels);

/// <summary>A label, its softmax probability over the request's labels, and its raw logit (exp(logit_scale) × cosine).</summary>
public sealed record LabelScore(string Label, double Probability, double Logit);

/// <summary>Where the time of a classification went; <see cref="TextCacheHits"/> counts labels whose features were cached.</summary>
public sealed record ClassifyTimings(double ImageDecodeMs, double VisionEncodeMs, double TextEncodeMs, double TotalMs, int TextCacheHits);
