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
/// Captions the job's items with a model loaded in this process: Concurrency workers each decode an image, rasterise
/// the region and preprocess (in parallel), share batched vision forwards (<see cref="VisionBatcher"/>), and
/// generate on their own engine sequence, which the LLM engine decodes together in one batch per step.
/// </summary>
internal sealed class InProcessCaptioner(JobState job, RegionChatModel model)
{
    public async Task RunAsync()
    {
        using var vision = new VisionBatcher();
        var workers = Enumerable.Range(0, job.Options.Concurrency).Select(_ => Task.Run(() => WorkAsync(vision))).ToArray();
        await Task.WhenAll(workers).ConfigureAwait(false);
    }

    async Task WorkAsync(VisionBatcher vision)
    {
        var ct = job.Token;
        var sampling = model.WithModelStops(Sampling(job.Options.MaxTokens));
        while (!ct.IsCancellationRequested)
        {
            WorkItem? item;
            try { item = await job.Queue.TakeAsync(ct).ConfigureAwait(false); }
            catch (OperationCanceledException) { return; }
            if (item == null) return;
            try
            {
                await CaptionAsync(item, vision, sampling, ct).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                return;
            }
        }
    }

    async Task CaptionAsync(WorkItem item, VisionBatcher vision, SamplingParams sampling, CancellationToken ct)
    {
        var clock = Stopwatch.StartNew();
        var (region, regionError) = ItemRegions.Parse(item, job.InputFolder);
        if (region == null)
        {
            job.Failed(item, regionError!);
            return;
        }
        PreprocessedImage input;
        double decodeMs;
        try
        {
            if (!File.Exists(item.Input.ImagePath))
            {
                job.Failed(item, $"image: file '{item.Input.ImagePath}' not found");
                return;
            }
            using var image = ImageLoader.Load(item.Input.ImagePath);
            decodeMs = clock.Elapsed.TotalMilliseconds;
            input = model.Preprocess(image, region);
        }
        catch (InvalidImageException e)
        {
            job.Failed(item, $"image '{item.Input.ImagePath}': {e.Message}");
            return;
        }
        catch (InvalidRegionException e)
        {
            job.Failed(item, "region: " + e.Message);
            return;
        }

        double queuedAt = clock.Elapsed.TotalMilliseconds;
        var tokens = await vision.EncodeAsync(model, input, ct).ConfigureAwait(false);
        double visionMs = clock.Elapsed.TotalMilliseconds - queuedAt;

        string instruction = item.Input.Instruction ?? job.Options.Instruction ?? "";
        if (instruction.Length == 0) instruction = model.Manifest.DefaultInstruction;
        var text = new StringBuilder();
        GenerationFinished? finished = null;
        double firstMs = -1;
        try
        {
            using var chat = model.StartChat();
            await foreach (var e in chat.GenerateAsync(ChatMessage.User(instruction, tokens.Block), sampling, ct).ConfigureAwait(false))
            {
                switch (e)
                {
                    case TextPiece p:
                        if (firstMs < 0) firstMs = clock.Elapsed.TotalMilliseconds;
                        text.Append(p.Text);
                        break;
                    case GenerationFinished f:
                        finished = f;
                        break;
                }
            }
        }
        catch (Exception e) when (e is ArgumentException or ContextOverflowException)
        {
            // The prompt cannot run (too long for the context, an instruction the template refuses): this item only.
            job.Failed(item, "prompt: " + e.Message);
            return;
        }
        if (finished == null || finished.Reason == FinishReason.Cancelled)
        {
            ct.ThrowIfCancellationRequested();
            job.Retry(item, "the engine cancelled the item");
            return;
        }
        job.Captioned(item, text.ToString().Trim(), model.Id, new JsonObject
        {
            ["total_ms"] = ServerLane.Round(clock.Elapsed.TotalMilliseconds),
            ["queue_ms"] = ServerLane.Round(finished.Timings.QueueMs),
            ["image_decode_ms"] = ServerLane.Round(decodeMs),
            ["vision_encode_ms"] = ServerLane.Round(visionMs),
            ["prefill_ms"] = ServerLane.Round(finished.Timings.PrefillMs),
            ["decode_ms"] = ServerLane.Round(finished.Timings.DecodeMs),
            ["time_to_first_token_ms"] = ServerLane.Round(firstMs < 0 ? clock.Elapsed.TotalMilliseconds : firstMs),
            ["decode_tokens_per_second"] = ServerLane.Round(finished.Timings.DecodeTokensPerSecond),
            ["visual_cache_hit"] = false,
        });
    }

    /// <summary>The server's defaults (greedy, no top-k/top-p/min-p, no repeat penalty), so in-process captions are the
    /// tokens a server would answer.</summary>
    internal static SamplingParams Sampling(int maxTokens) => new()
    {
        Temperature = 0f, TopK = 0, TopP = 1f, MinP = 0f, RepeatPenalty = 1f, RepeatLastN = 64,
        MaxTokens = maxTokens > 0 ? maxTokens : 256,
    };
}
