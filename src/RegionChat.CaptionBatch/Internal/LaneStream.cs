using System.Runtime.CompilerServices;
using RegionChat.Client;
using RegionChat.Inference;
using PbV1 = RegionChat.Protos.V1;

namespace RegionChat.CaptionBatch.Internal;

/// <summary>One result of a lane's stream: a caption, a classification, an embedding, or the item's error (one of them).</summary>
internal sealed record LaneResult(string Id, PbV1.CaptionResponse? Caption, PbV1.ClassifyResponse? Classification, CaptionItemError? Error,
    PbV1.EmbedResponse? Embedding = null);

/// <summary>A lane's stream call for the job's task: CaptionStream for captions, ClassifyStream for --task classify,
/// EmbedStream for --task embed.</summary>
internal sealed class LaneStream : IDisposable
{
    readonly CaptionBatchOptions options;
    readonly CaptionStream? captions;
    readonly ClassifyStream? classifications;
    readonly EmbedStream? embeddings;
    /// <summary>The job's --logprobs and answer format, made once: every caption request carries the same.</summary>
    readonly PbV1.SamplingParams? sampling;

    public LaneStream(RegionChatClient client, CaptionBatchOptions options, CancellationToken ct)
    {
        this.options = options;
        sampling = Sampling(options);
        switch (options.TaskKind)
        {
            case CaptionBatchTask.Classify: classifications = client.OpenClassifyStream(ct); break;
            case CaptionBatchTask.Embed: embeddings = client.OpenEmbedStream(ct); break;
            default: captions = client.OpenCaptionStream(ct); break;
        }
    }

    /// <summary>Sends the item: its stored image and region, with the job's instruction and max tokens, or labels and top.</summary>
    public Task SendAsync(WorkItem item, string imageId, PbV1.Region region, CancellationToken ct)
    {
        var image = new PbV1.ImageInput { ImageId = imageId };
        if (classifications != null)
        {
            var request = new PbV1.ClassifyRequest { Image = image, Regions = { region }, Labels = { options.Labels }, Top = (uint)options.Top };
            return classifications.SendAsync(item.Id, request, ct);
        }
        if (embeddings != null) return embeddings.SendAsync(item.Id, new PbV1.EmbedRequest { Image = image, Regions = { region } }, ct);
        return captions!.SendAsync(item.Id, new PbV1.CaptionRequest
        {
            Image = image,
            Region = region,
            Instruction = item.Input.Instruction ?? options.Instruction ?? "",
            MaxTokens = (uint)options.MaxTokens,
            Sampling = sampling,
        }, ct);
    }

    /// <summary>--logprobs and the answer format, or null when neither is asked for.</summary>
    static PbV1.SamplingParams? Sampling(CaptionBatchOptions options)
    {
        if (!options.Logprobs && options.AnswerFormat is not { } format) return null;
        var sampling = new PbV1.SamplingParams();
        if (options.Logprobs) sampling.Logprobs = 0;
        sampling.Format = (options.AnswerFormat?.Kind switch
        {
            AnswerFormatKind.JsonObject => Client.AnswerFormat.JsonObject,
            AnswerFormatKind.JsonSchema => Client.AnswerFormat.JsonSchema(options.JsonSchema!),
            AnswerFormatKind.Choice => Client.AnswerFormat.Choice(options.Choices),
            AnswerFormatKind.Regex => Client.AnswerFormat.Regex(options.Regex!),
            _ => null,
        })?.ToProto();
        return sampling;
    }

    public Task CompleteAsync() =>
        classifications?.CompleteAsync() ?? embeddings?.CompleteAsync() ?? captions!.CompleteAsync();

    public async IAsyncEnumerable<LaneResult> ReadAllAsync([EnumeratorCancellation] CancellationToken ct)
    {
        if (classifications != null)
        {
            await foreach (var r in classifications.ReadAllAsync(ct).ConfigureAwait(false)) yield return new(r.Id, null, r.Classification, r.Error);
        }
        else if (embeddings != null)
        {
            await foreach (var r in embeddings.ReadAllAsync(ct).ConfigureAwait(false)) yield return new(r.Id, null, null, r.Error, r.Embedding);
        }
        else
        {
            await foreach (var r in captions!.ReadAllAsync(ct).ConfigureAwait(false)) yield return new(r.Id, r.Caption, null, r.Error);
        }
    }

    public void Dispose()
    {
        captions?.Dispose();
        classifications?.Dispose();
        embeddings?.Dispose();
    }
}
