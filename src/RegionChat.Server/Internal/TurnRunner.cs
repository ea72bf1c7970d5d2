using System.Diagnostics;
using Grpc.Core;
using Microsoft.Extensions.Options;
using RegionChat.Inference;
using RegionChat.Llm.Engine;
using RegionChat.Vision.Imaging;
using RegionChat.Vision.Regions;
using PbV1 = RegionChat.Protos.V1;

namespace RegionChat.Server.Internal;

/// <summary>What one chat or caption turn asks for, already validated field by field.</summary>
internal sealed record TurnRequest(
    string Model, string SessionId, string Text, PbV1.ImageInput? Image, PbV1.Region? Region, SamplingParams Sampling,
    string SystemPrompt, bool KeepSession, TurnFields Fields);

/// <summary>The request's field paths of text, image and region, for errors found while running a turn
/// (Chat: "message.text", …; Caption: "instruction", "image", "region"; CaptionStream items add "request.").</summary>
internal sealed record TurnFields(string Text, string Image, string Region, string Model)
{
    public static TurnFields Chat { get; } = new("message.text", "message.image", "message.region", "model");
    public static TurnFields Caption(string prefix) => new(prefix + "instruction", prefix + "image", prefix + "region", prefix + "model");
}

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
        var f = turn.Fields;
        var model = models.Get(turn.Model) ?? throw RpcErrors.NotFound(
            $"model '{turn.Model}' is not served here (models: {string.Join(", ", models.Manifests.Keys)})");

        ChatSessionEntry? session = null;
        if (turn.SessionId.Length > 0)
        {
            session = sessions.Get(turn.SessionId) ?? throw SessionGone(turn.SessionId);
            session.Touch(); // keeps the idle sweeper off it while its image is being encoded
            if (turn.Model.Length > 0 && turn.Model != session.Model.Id)
                throw RpcErrors.InvalidArgument(f.Model, $"session '{turn.SessionId}' belongs to model '{session.Model.Id}'");
            model = session.Model;
        }

        // Image and region → visual tokens.
        var timings = new PbV1.Timings();
        EmbeddingBlock? visual = null;
        string? imageId = null;
        if (turn.Image != null) imageId = ResolveImage(turn.Image, f.Image, timings);
        else if (turn.Region != null)
            imageId = session?.LastImageId ?? throw RpcErrors.InvalidArgument(f.Region, "a region needs an image: send one in this turn or an earlier turn of the session");
        if (imageId != null)
            visual = await VisualTokensAsync(model, imageId, turn.Region, f, timings, ct).ConfigureAwait(false);

        string text = turn.Text.Length > 0 ? turn.Text : model.Manifest.DefaultInstruction;
        bool ownSession = session == null;
        session ??= sessions.Create(model, turn.SystemPrompt.Length > 0 ? turn.SystemPrompt : null);
        if (Interlocked.Exchange(ref session.Busy, 1) == 1)
            throw new RpcException(new Status(StatusCode.FailedPrecondition, $"session '{session.Id}' is answering another turn; wait for it to finish"));
        bool announced = false;
        try
        {
            session.Touch();
            if (imageId != null) session.LastImageId = imageId;
            await StreamAsync(model, session, text, visual, turn.Sampling, timings, arrived, e =>
            {
                announced |= e.EventCase == PbV1.ChatEvent.EventOneofCase.Started;
                return emit(e);
            }, requestId, f, ct).ConfigureAwait(false);
        }
        finally
        {
            session.Touch();
            Volatile.Write(ref session.Busy, 0);
            // A new session whose id never reached the client (the turn failed first) would only wait to expire.
            if (ownSession && (!turn.KeepSession || !announced)) sessions.Remove(session.Id);
        }
    }

    static RpcException SessionGone(string id) => RpcErrors.NotFound(
        $"session '{id}' is unknown, expired or was evicted; start a new session (its history is gone, so it is not answered without it)");

    async Task StreamAsync(RegionChatModel model, ChatSessionEntry session, string text, EmbeddingBlock? visual,
        SamplingParams sampling, PbV1.Timings timings, Stopwatch arrived, Func<PbV1.ChatEvent, Task> emit, string requestId,
        TurnFields f, CancellationToken ct)
    {
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(ct, shutdown.Token);
        uint visualTokens = (uint)(visual?.Count ?? 0);
        bool started = false, first = true;
        try
        {
            var stream = session.Chat.GenerateAsync(ChatMessage.User(text, visual), model.WithModelStops(sampling), linked.Token);
            await foreach (var ev in stream.ConfigureAwait(false))
            {
                // The client is gone (cancel or deadline): the engine is stopping; nothing more can be written.
                if (ct.IsCancellationRequested) continue;
                switch (ev)
                {
                    case PromptAdmitted a:
                        started = true;
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
                    case GenerationFinished g:
                        // Ended before admission, and not by the client (handled above): the shutdown cancelled it while
                        // it waited. Nothing was started, so the call is refused (a stream must begin with ChatStarted)
                        // and the client may retry elsewhere.
                        if (!started) throw RpcErrors.Unavailable("the server is shutting down; the request was not started");
                        timings.PrefillMs = g.Timings.PrefillMs;
                        timings.DecodeMs = g.Timings.DecodeMs;
                        timings.DecodeTokensPerSecond = g.Timings.DecodeTokensPerSecond;
                        if (g.Timings.DecodeTokensPerSecond > 0) metrics.DecodeTokensPerSecond.Record(g.Timings.DecodeTokensPerSecond);
                        metrics.PromptTokens.Add(g.Usage.PromptTokens);
                        metrics.CachedTokens.Add(g.Usage.CachedTokens);
                        metrics.CompletionTokens.Add(g.Usage.CompletionTokens);
                        var finished = new PbV1.ChatFinished
                        {
                            Reason = g.Reason switch
                            {
                                FinishReason.Stop => PbV1.FinishReason.Stop,
                                FinishReason.Length => PbV1.FinishReason.Length,
                                _ => PbV1.FinishReason.Cancelled,
                            },
                            Usage = new PbV1.Usage
                            {
                                PromptTokens = (uint)g.Usage.PromptTokens, CachedTokens = (uint)g.Usage.CachedTokens,
                                CompletionTokens = (uint)g.Usage.CompletionTokens, VisualTokens = visualTokens,
                            },
                            Timings = timings,
                        };
                        await emit(new PbV1.ChatEvent { Finished = finished }).ConfigureAwait(false);
                        break;
                }
            }
        }
        catch (SequenceEvictedException)
        {
            sessions.Remove(session.Id);
            throw RpcErrors.NotFound($"session '{session.Id}' was evicted to free KV cache space; its history is gone, start a new session");
        }
        catch (ContextOverflowException e)
        {
            throw RpcErrors.InvalidArgument(f.Text, e.Message);
        }
        catch (ObjectDisposedException) when (shutdown.IsShuttingDown)
        {
            throw RpcErrors.Unavailable("the server is shutting down");
        }
        catch (ObjectDisposedException) when (!ct.IsCancellationRequested)
        {
            // The session expired or was ended between lookup and generation.
            throw SessionGone(session.Id);
        }
        catch (ArgumentException e) when (!ct.IsCancellationRequested)
        {
            throw RpcErrors.InvalidArgument(f.Text, e.Message);
        }
    }

    /// <summary>Stores inline bytes or looks up an id; returns the image id.</summary>
    string ResolveImage(PbV1.ImageInput input, string field, PbV1.Timings timings)
    {
        switch (input.SourceCase)
        {
            case PbV1.ImageInput.SourceOneofCase.Data:
                if (input.Data.Length > options.Value.MaxImageBytes)
                    throw RpcErrors.InvalidArgument(field + ".data", $"the image is {input.Data.Length} bytes; the limit is {options.Value.MaxImageBytes}");
                var sw = Stopwatch.StartNew();
                try
                {
                    // Checked by a full decode when new; the pixels are decoded again only on a visual-cache miss, which
                    // keeps memory flat under many images.
                    var stored = images.Put(input.Data.Memory, out bool decoded);
                    if (decoded) timings.ImageDecodeMs += sw.Elapsed.TotalMilliseconds;
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

    async Task<EmbeddingBlock> VisualTokensAsync(RegionChatModel model, string imageId, PbV1.Region? region, TurnFields f,
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
            throw RpcErrors.InvalidArgument(e.Field.Length == 0 ? f.Region : f.Region + "." + e.Field, e.Description);
        }
        catch (InvalidImageException e) { throw RpcErrors.InvalidArgument(f.Image, e.Message); }
        var tokens = await vision.EncodeAsync(model, input, ct).ConfigureAwait(false);
        timings.VisionEncodeMs = tokens.EncodeMs;
        visualCache.Set(key, tokens);
        return tokens.Block;
    }
}
