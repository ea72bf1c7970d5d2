using System.Diagnostics;
using System.Text;
using System.Text.Json.Nodes;
using RegionChat.Data.Regions;
using RegionChat.Inference;
using RegionChat.Llm.Engine;
using RegionChat.Vision.Imaging;
using RegionChat.Vision.Regions;

namespace RegionChat.CaptionBatch.Internal;

/// <summary>
/// Captions the job's items with a model loaded in this process, through the server's own turn
/// (<see cref="RegionChatCore"/>): Concurrency workers each run one item's turn — image decoding and region drawing in
/// parallel, vision forwards batched by the core, and generation on their own engine sequence, which the LLM engine
/// decodes together in one batch per step. With --task classify, each worker runs the item's zero-shot classification
/// (<see cref="RegionChatCore.ClassifyAsync"/>) instead.
/// </summary>
internal sealed class InProcessCaptioner(JobState job, RegionChatCore core)
{
    // Made once: its schema is compiled on first use and kept.
    readonly AnswerFormat? format = job.Options.AnswerFormat;

    public Task RunAsync() => JobWorkers.RunAsync(job, job.Options.Concurrency, CaptionAsync);

    async Task CaptionAsync(WorkItem item, CancellationToken ct)
    {
        var clock = Stopwatch.StartNew();
        var (region, regionError, regionTransient) = ItemRegions.Parse(item, job.InputFolder);
        if (region == null)
        {
            if (regionTransient) job.Retry(item, regionError!); // a disk or network file system hiccup: try it again
            else job.Failed(item, regionError!);
            return;
        }
        string path = item.Input.ImagePath;
        if (!File.Exists(path))
        {
            job.Failed(item, $"image: file '{path}' not found");
            return;
        }
        byte[] bytes;
        try { bytes = await File.ReadAllBytesAsync(path, ct).ConfigureAwait(false); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            string error = $"image '{path}': cannot read image file '{path}': {e.Message}";
            if (LocalImages.IsTransient(e)) job.Retry(item, error); // a disk or network file system hiccup: try it again
            else job.Failed(item, error);
            return;
        }
        if (job.Options.TaskKind == CaptionBatchTask.Classify)
        {
            await ClassifyAsync(item, bytes, region, path, clock, ct).ConfigureAwait(false);
            return;
        }
        if (job.Options.TaskKind == CaptionBatchTask.Embed)
        {
            await EmbedAsync(item, bytes, region, path, clock, ct).ConfigureAwait(false);
            return;
        }

        var turn = new TurnRequest
        {
            Messages = [TurnMessage.User(item.Input.Instruction ?? job.Options.Instruction ?? "",
                new TurnImage(ImageInput.FromBytes(bytes), RegionSource.Of(region)))],
            Sampling = new SamplingOptions
            {
                MaxTokens = job.Options.MaxTokens, Logprobs = job.Options.Logprobs ? 0 : null, Format = format,
            },
        };
        var text = new StringBuilder();
        var logprobs = new List<float>();
        TurnStarted? started = null;
        TurnFinished? finished = null;
        try
        {
            await foreach (var e in core.RunTurnAsync(turn, ct).ConfigureAwait(false))
            {
                switch (e)
                {
                    case TurnStarted s: started = s; break;
                    case TurnText p:
                        text.Append(p.Text);
                        logprobs.AddRange(p.Logprobs.Select(l => l.Logprob));
                        break;
                    case TurnFinished f: finished = f; break;
                }
            }
        }
        catch (RegionChatCoreException e) when (e.Kind == RegionChatErrorKind.InvalidArgument
            && CaptionRefusals.BlamedOption(item, job.Options, e.Violations.Select(v => v.Field)) is { } option)
        {
            // The job's max tokens or instruction, not this item: every item would fail alike, so no error record.
            job.Abort($"{option}: the model refuses it: {e.Message}", e, refused: true);
            return;
        }
        catch (RegionChatCoreException e) when (e.Kind == RegionChatErrorKind.InvalidArgument)
        {
            // This item only: its image, its region, or a prompt that cannot run (too long for the context, an
            // instruction the template refuses).
            job.Failed(item, e.InnerException switch
            {
                InvalidImageException i => $"image '{path}': {i.Message}",
                InvalidRegionException r => ItemRegions.ErrorText(r),
                ArgumentException or LlmEngineException => "prompt: " + e.InnerException.Message,
                _ => e.Message,
            });
            return;
        }
        if (finished == null || finished.Reason == TurnFinishReason.Cancelled)
        {
            ct.ThrowIfCancellationRequested();
            job.Retry(item, "the engine cancelled the item");
            return;
        }
        var t = finished.Timings;
        job.Captioned(item, text.ToString().Trim(), started!.Model, new JsonObject
        {
            ["total_ms"] = ServerLane.Round(clock.Elapsed.TotalMilliseconds),
            ["queue_ms"] = ServerLane.Round(t.QueueMs),
            ["image_decode_ms"] = ServerLane.Round(t.ImageDecodeMs),
            ["vision_encode_ms"] = ServerLane.Round(t.VisionEncodeMs),
            ["prefill_ms"] = ServerLane.Round(t.PrefillMs),
            ["decode_ms"] = ServerLane.Round(t.DecodeMs),
            ["time_to_first_token_ms"] = ServerLane.Round(t.TimeToFirstTokenMs),
            ["decode_tokens_per_second"] = ServerLane.Round(t.DecodeTokensPerSecond),
            ["visual_cache_hit"] = t.VisualCacheHit,
        }, logprobs: job.Options.Logprobs ? logprobs : null);
    }

    async Task ClassifyAsync(WorkItem item, byte[] bytes, Region region, string path, Stopwatch clock, CancellationToken ct)
    {
        var result = await ClassifierCallAsync(item, path, () => core.ClassifyAsync(new ClassifyRequest
        {
            Image = ImageInput.FromBytes(bytes), Regions = [RegionSource.Of(region)], Labels = job.Options.Labels, Top = job.Options.Top,
        }, ct)).ConfigureAwait(false);
        if (result == null) return;
        var t = result.Timings;
        job.Classified(item, result.Regions[0].Labels.Select(l => (l.Label, l.Probability)), result.Model,
            BatchClassify.Timings(clock.Elapsed.TotalMilliseconds, t.ImageDecodeMs, t.VisionEncodeMs, t.TextEncodeMs, t.TextCacheHits));
    }

    async Task EmbedAsync(WorkItem item, byte[] bytes, Region region, string path, Stopwatch clock, CancellationToken ct)
    {
        var result = await ClassifierCallAsync(item, path, () => core.EmbedAsync(new EmbedRequest
        {
            Image = ImageInput.FromBytes(bytes), Regions = [RegionSource.Of(region)],
        }, ct)).ConfigureAwait(false);
        if (result == null) return;
        var t = result.Timings;
        job.Embedded(item, result.Regions[0], result.Model, BatchClassify.EmbedTimings(clock.Elapsed.TotalMilliseconds, t.ImageDecodeMs, t.VisionEncodeMs));
    }

    /// <summary>A call to the model's classifier (classify, embed); null when it failed: the item's error recorded, or
    /// the job stopped when the labels or the model are at fault (every item would fail alike).</summary>
    async Task<T?> ClassifierCallAsync<T>(WorkItem item, string path, Func<Task<T>> call) where T : class
    {
        try
        {
            return await call().ConfigureAwait(false);
        }
        catch (RegionChatCoreException e) when (BatchClassify.IsJobWide(e.Kind == RegionChatErrorKind.InvalidArgument,
            e.Kind == RegionChatErrorKind.FailedPrecondition, e.Violations.Select(v => v.Field)))
        {
            job.Abort(BatchClassify.JobWideMessage(job.Options.TaskKind, e.Message, e.Violations.Select(v => (v.Field, v.Description))), e,
                refused: true);
        }
        catch (RegionChatCoreException e) when (e.Kind == RegionChatErrorKind.InvalidArgument)
        {
            job.Failed(item, e.InnerException switch
            {
                InvalidImageException i => $"image '{path}': {i.Message}",
                InvalidRegionException r => ItemRegions.ErrorText(r),
                _ => e.Message,
            });
        }
        return null;
    }
}
