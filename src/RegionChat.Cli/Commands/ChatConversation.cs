using System.Globalization;
using Grpc.Core;
using RegionChat.Client;
using PbV1 = RegionChat.Protos.V1;

namespace RegionChat.Cli.Commands;

/// <summary>What every turn of a `regionchat chat` run asks for besides its message.</summary>
/// <param name="Format">The shape every answer keeps (--json, --json-schema, --choice), or null.</param>
internal sealed record ChatTurnSettings(string Model, uint MaxTokens, float? Temperature, ulong? Seed, string SystemPrompt,
    PbV1.AnswerFormat? Format = null)
{
    public PbV1.SamplingParams Sampling()
    {
        var s = new PbV1.SamplingParams();
        if (Temperature is { } t) s.Temperature = t;
        if (Seed is { } seed) s.Seed = seed;
        if (Format != null) s.Format = Format;
        return s;
    }
}

/// <summary>
/// A conversation with a server: each turn is one Chat call continuing <see cref="SessionId"/>. The answer streams to
/// <c>output</c> piece by piece (and nothing else goes there); the session id, usage and timings go to <c>error</c>.
/// </summary>
internal sealed class ChatConversation(RegionChatClient client, ChatTurnSettings settings, TextWriter output, TextWriter error)
{
    /// <summary>The session to continue; empty until the first turn starts one.</summary>
    public string SessionId { get; set; } = "";

    /// <summary>Runs one turn; throws <see cref="RegionChatException"/> when the call fails.</summary>
    public async Task<PbV1.ChatFinished> SendAsync(string text, PbV1.ImageInput? image, ImageRegion? region, CancellationToken ct)
    {
        var request = new PbV1.ChatRequest
        {
            Model = settings.Model,
            SessionId = SessionId,
            Message = new PbV1.UserMessage { Text = text, Image = image, Region = region?.ToProto() },
            Sampling = settings.Sampling(),
            MaxTokens = settings.MaxTokens,
            SystemPrompt = SessionId.Length == 0 ? settings.SystemPrompt : "",
        };
        PbV1.ChatStarted? started = null;
        PbV1.ChatFinished? finished = null;
        bool wroteText = false;
        try
        {
            await foreach (var e in client.ChatStreamAsync(request, ct).ConfigureAwait(false))
            {
                switch (e.EventCase)
                {
                    case PbV1.ChatEvent.EventOneofCase.Started:
                        started = e.Started;
                        SessionId = started.SessionId;
                        break;
                    case PbV1.ChatEvent.EventOneofCase.Delta:
                        output.Write(e.Delta.Text);
                        output.Flush();
                        wroteText = true;
                        break;
                    case PbV1.ChatEvent.EventOneofCase.Finished:
                        finished = e.Finished;
                        break;
                }
            }
        }
        finally
        {
            // The answer line ends even when the stream broke off mid-answer, so the error line stands alone.
            if (wroteText) output.WriteLine();
            output.Flush();
        }
        if (started == null || finished == null)
            throw Failed(StatusCode.Internal, "the server ended the stream without its " + (started == null ? "ChatStarted" : "ChatFinished") + " event");
        error.WriteLine(Summary(started, finished));
        if (finished.Reason == PbV1.FinishReason.Cancelled)
            throw Failed(StatusCode.Cancelled, "the answer was cut off (cancelled, deadline passed or the server is shutting down)");
        return finished;
    }

    /// <summary>A turn the stream did not complete, reported like a failed call.</summary>
    static RegionChatException Failed(StatusCode code, string detail) => new("Chat", new RpcException(new Status(code, detail)), []);

    static string Summary(PbV1.ChatStarted s, PbV1.ChatFinished f)
    {
        var u = f.Usage;
        var t = f.Timings ?? new PbV1.Timings();
        string reason = f.Reason switch
        {
            PbV1.FinishReason.Stop => "stop",
            PbV1.FinishReason.Length => "length",
            PbV1.FinishReason.Cancelled => "cancelled",
            _ => "unspecified",
        };
        string vision = u.VisualTokens == 0 ? "no image"
            : t.VisualCacheHit ? "vision cached" : string.Create(CultureInfo.InvariantCulture, $"vision {t.VisionEncodeMs:F1} ms");
        return string.Create(CultureInfo.InvariantCulture,
            $"session {s.SessionId} · model {s.Model} · prompt {u.PromptTokens} tokens (cached {u.CachedTokens}, visual {u.VisualTokens}) · " +
            $"{u.CompletionTokens} tokens, finish {reason} · ttft {t.TimeToFirstTokenMs:F1} ms · {vision} · prefill {t.PrefillMs:F1} ms · " +
            $"decode {t.DecodeTokensPerSecond:F1} tok/s · queue {t.QueueMs:F1} ms · request {s.RequestId}");
    }
}
