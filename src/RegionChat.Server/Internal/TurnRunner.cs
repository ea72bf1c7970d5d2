using System.Diagnostics;
using Grpc.Core;
using Microsoft.Extensions.Options;
using RegionChat.Inference;
using RegionChat.Llm.Engine;
using RegionChat.Vision.Imaging;
using RegionChat.Vision.Regions;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;
using PbV1 = RegionChat.Protos.V1;

namespace RegionChat.Server.Internal;

/// <summary>What one chat or caption turn asks for, already validated field by field.</summary>
internal sealed record TurnRequest(
    string Model, string SessionId, string Text, PbV1.ImageInput? Image, PbV1.Region? Region, SamplingParams Sampling,
    string SystemPrompt, bool KeepSession, string FieldPrefix);

/// <summary>
/// Runs one turn: resolves model, session and image, gets the visual tokens (cache, else the vision batcher), then
/// streams the LLM's answer as proto events. Shared by Chat, Caption and CaptionStream.
/// </summary>
internal sealed class TurnRunner(
    ModelRegistry models, SessionStore sessions, ImageStore images, VisualTokenCache visualCache, VisionBatcher vision,
    ServerMetrics metrics, ShutdownSignal shutdown, IOptions<ServerOptions> options)
{
    public async Task RunAsync(TurnRequest turn, Func<PbV1.ChatEvent, Task> emit, string requestId, CancellationToken ct)
    {
        var arrived = Stopwatch.StartNew();
        string p = turn.FieldPrefix;
        var model = models.Get(turn.Model) ?? throw RpcErrors.NotFound(
            $"model '{turn.Model}' is not served here (models: {string.Join(", ", models.Manifests.Keys)})");

        ChatSessionEntry? session = null;
        if (turn.SessionId.Length > 0)
        {
            session = sessions.Get(turn.SessionId) ?? throw RpcErrors.NotFound(
                $"session '{turn.SessionId}' is unknown, expired or was evicted; start a new session (its history is gone, so it is not answered without it)");
            if (turn.Model.Length > 0 && turn.Model != session.Model.Id)
                throw RpcErrors.InvalidArgument(p + "model", $"session '{turn.SessionId}' belongs to model '{session.Model.Id}'");
            model = session.Model;
        }

        // Image and region → visual tokens.
        var timings = new PbV1.Timings();
        EmbeddingBlock? visual = null;
        string? imageId = null;
        if (turn.Image != null) imageId = ResolveImage(turn.Image, p + "message.image", timings, out _);
        else if (turn.Region != null)
            imageId = session?.LastImageId ?? throw RpcErrors.InvalidArgument(p + "message.region", "a region needs an image: send one in this turn or an earlier turn of the session");
        if (imageId != null)
            visual = await VisualTokensAsync(model, imageId, turn.Region, p, timings, ct).ConfigureAwait(false);

        string text = turn.Text.Length > 0 ? turn.Text : model.Manifest.DefaultInstruction;
        bool ownSession = session == null;
        session ??= sessions.Create(model, turn.SystemPrompt.Length > 0 ? turn.SystemPrompt : null);
        if (Interlocked.Exchange(ref session.Busy, 1) == 1)
            throw new RpcException(new Status(StatusCode.FailedPrecondition, $"session '{session.Id}' is answering another turn; wait for it to finish"));
        try
        {
            session.Touch();
            if (imageId != null) session.LastImageId = imageId;
            await StreamAsync(model, session, text, visual, turn.Sampling, timings, arrived, emit, requestId, p, ct).ConfigureAwait(false);
        }
        finally
        {
            session.Touch();
            Volatile.Write(ref session.Busy, 0);
            if (ownSession && !turn.KeepSession) sessions.Remove(session.Id);
        }
    }

    async Task StreamAsync(RegionChatModel model, ChatSessionEntry session, string text, EmbeddingBlock? visual,
        SamplingParams sampling, PbV1.Timings timings, Stopwatch arrived, Func<PbV1.ChatEvent, Task> emit, string requestId,
        string p, CancellationToken ct)
    {
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(ct, shutdown.Token);
        IAsyncEnumerable<GenerationEvent> stream;
        try
        {
            stream = session.Chat.GenerateAsync(ChatMessage.User(text, visual), model.WithModelStops(sampling), linked.Token);
        }
        catch (SequenceEvictedException)
        {
            sessions.Remove(session.Id);
            throw RpcErrors.NotFound($"session '{session.Id}' was evicted to free KV cache space; start a new session");
        }
        catch (ArgumentException e)
        {
            throw RpcErrors.InvalidArgument(p + "message", e.Message);
        }

        uint visualTokens = (uint)(visual?.Count ?? 0);
        bool first = true;
        try
        {
            await foreach (var ev in stream.ConfigureAwait(false))
            {
                switch (ev)
                {
                    case PromptAdmitted a:
                        timings.QueueMs = a.QueueMs;
                        await emit(new PbV1.ChatEvent { Started = new PbV1.ChatStarted
                        {
                            SessionId = session.Id, Model = model.Id, PromptTokens = (uint)a.PromptTokens,
                            CachedTokens = (uint)a.CachedTokens, VisualTokens = visualTokens, RequestId = requestId,
                        } }).ConfigureAwait(false);
                        break;
                    case TextPiece t:
                        if (first)
                        {
                            first = false;
                            timings.TimeToFirstTokenMs = arrived.Elapsed.TotalMilliseconds;
                            metrics.TimeToFirstToken.Record(timings.TimeToFirstTokenMs);
                        }
                        await emit(new PbV1.ChatEvent { Delta = new PbV1.TextDelta { Text = t.Text } }).ConfigureAwait(false);
                        break;
                    case GenerationFinished f:
                        timings.PrefillMs = f.Timings.PrefillMs;
                        timings.DecodeMs = f.Timings.DecodeMs;
                        timings.DecodeTokensPerSecond = f.Timings.DecodeTokensPerSecond;
                        if (f.Timings.DecodeTokensPerSecond > 0) metrics.DecodeTokensPerSecond.Record(f.Timings.DecodeTokensPerSecond);
                        metrics.PromptTokens.Add(f.Usage.PromptTokens);
                        metrics.CachedTokens.Add(f.Usage.CachedTokens);
                        metrics.CompletionTokens.Add(f.Usage.CompletionTokens);
                        var finished = new PbV1.ChatFinished
                        {
                            Reason = f.Reason switch
                            {
                                FinishReason.Stop => PbV1.FinishReason.Stop,
                                FinishReason.Length => PbV1.FinishReason.Length,
                                _ => PbV1.FinishReason.Cancelled,
                            },
                            Usage = new PbV1.Usage
                            {
                                PromptTokens = (uint)f.Usage.PromptTokens, CachedTokens = (uint)f.Usage.CachedTokens,
                                CompletionTokens = (uint)f.Usage.CompletionTokens, VisualTokens = visualTokens,
                            },
                            Timings = timings,
                        };
                        // A client that is gone cannot read its final event; a server shutdown still sends it.
                        if (!ct.IsCancellationRequested) await emit(new PbV1.ChatEvent { Finished = finished }).ConfigureAwait(false);
                        break;
                }
            }
        }
        catch (SequenceEvictedException)
        {
            sessions.Remove(session.Id);
            throw RpcErrors.NotFound($"session '{session.Id}' was evicted to free KV cache space; start a new session");
        }
        catch (ContextOverflowException e)
        {
            throw RpcErrors.InvalidArgument(p + "message.text", e.Message);
        }
    }

    /// <summary>Stores inline bytes or looks up an id; returns the image id.</summary>
    string ResolveImage(PbV1.ImageInput input, string field, PbV1.Timings timings, out Image<Rgb24>? decoded)
    {
        decoded = null;
        switch (input.SourceCase)
        {
            case PbV1.ImageInput.SourceOneofCase.Data:
                if (input.Data.Length > options.Value.MaxImageBytes)
                    throw RpcErrors.InvalidArgument(field + ".data", $"the image is {input.Data.Length} bytes; the limit is {options.Value.MaxImageBytes}");
                var sw = Stopwatch.StartNew();
                try
                {
                    var (stored, image) = images.Put(input.Data.Memory);
                    image.Dispose(); // decoded again on a visual-cache miss; keeps memory flat under many images
                    timings.ImageDecodeMs += sw.Elapsed.TotalMilliseconds;
                    return stored.Id;
                }
                catch (InvalidImageException e) { throw RpcErrors.InvalidArgument(field + ".data", e.Message); }
            case PbV1.ImageInput.SourceOneofCase.ImageId:
                string? id = ImageStore.NormaliseId(input.ImageId);
                if (id == null) throw RpcErrors.InvalidArgument(field + ".image_id", "must be \"sha256:\" followed by 64 hex digits");
                if (!images.TryGet(id, out _)) throw RpcErrors.NotFound($"image '{id}' is not stored here (never uploaded, or dropped from the image store); upload it again");
                return id;
            default:
                throw RpcErrors.InvalidArgument(field, "needs data or image_id");
        }
    }

    async Task<EmbeddingBlock> VisualTokensAsync(RegionChatModel model, string imageId, PbV1.Region? region, string p,
        PbV1.Timings timings, CancellationToken ct)
    {
        var key = new VisualTokenCache.Key(model.Id, imageId, ProtoRegions.CacheKey(region));
        if (visualCache.TryGet(key, out var cached))
        {
            metrics.VisualCacheHits.Add(1);
            timings.VisualCacheHit = true;
            return cached.Block;
        }
        metrics.VisualCacheMisses.Add(1);
        if (!images.TryGet(imageId, out var stored)) throw RpcErrors.NotFound($"image '{imageId}' was dropped from the image store; upload it again");
        var sw = Stopwatch.StartNew();
        PreprocessedImage input;
        try
        {
            using var image = ImageStore.Decode(stored, images.Limits);
            timings.ImageDecodeMs += sw.Elapsed.TotalMilliseconds;
            input = model.Preprocess(image, ProtoRegions.ToRegion(region, images.Limits));
        }
        catch (InvalidRegionException e)
        {
            string field = e.Field.Length == 0 ? "" : "." + e.Field;
            throw RpcErrors.InvalidArgument(p + "message.region" + field, e.Description);
        }
        catch (InvalidImageException e) { throw RpcErrors.InvalidArgument(p + "message.image", e.Message); }
        var tokens = await vision.EncodeAsync(model, input, ct).ConfigureAwait(false);
        timings.VisionEncodeMs = tokens.EncodeMs;
        visualCache.Set(key, tokens);
        return tokens.Block;
    }
}
