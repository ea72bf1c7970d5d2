using System.Diagnostics;
using Grpc.Core;
using Microsoft.Extensions.Options;
using RegionChat.Data.Regions;
using RegionChat.Inference;
using RegionChat.Llm.Engine;
using RegionChat.Vision.Imaging;
using RegionChat.Vision.Regions;
using PbV1 = RegionChat.Protos.V1;

namespace RegionChat.Server.Internal;

/// <summary>What one chat or caption turn asks for, already validated field by field: the new messages (for the
/// gRPC API one user message; for the OpenAI endpoint possibly a replayed conversation) ending with a user message.</summary>
internal sealed record TurnRequest(
    string Model, string SessionId, IReadOnlyList<TurnMessage> Messages, SamplingParams Sampling,
    string SystemPrompt, bool KeepSession, TurnFields Fields);

/// <summary>One message of a turn. Only user messages hold an image.</summary>
internal sealed record TurnMessage(ChatRole Role, string Text, TurnImage? Image = null)
{
    public static TurnMessage User(string text, TurnImage? image = null) => new(ChatRole.User, text, image);
}

/// <summary>A user message's image (bytes or a stored id; null = the session's last image) and its region, with the
/// request fields that errors about them name.</summary>
internal sealed record TurnImage(PbV1.ImageInput? Input, RegionSource Region, string ImageField, string RegionField)
{
    /// <summary>The field errors about the image bytes name (gRPC: "….image.data").</summary>
    public string DataField { get; init; } = ImageField + ".data";
}

/// <summary>The request's field paths of the text and the model, for errors found while running a turn
/// (Chat: "message.text"; Caption: "instruction"; CaptionStream items add "request."; the OpenAI endpoint: "messages").</summary>
internal sealed record TurnFields(string Text, string Model)
{
    public static TurnFields Chat { get; } = new("message.text", "model");
    public static TurnFields Caption(string prefix) => new(prefix + "instruction", prefix + "model");
}

/// <summary>
/// Runs one turn: resolves model, session and image, gets the visual tokens (cache, else the vision batcher), then
/// streams the LLM's answer as proto events. Shared by Chat, Caption, CaptionStream and the OpenAI endpoint.
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

        // Images and regions → visual tokens.
        var timings = new PbV1.Timings();
        var visuals = new EmbeddingBlock?[turn.Messages.Count];
        string? imageId = null;
        int images = 0, hits = 0;
        for (int i = 0; i < turn.Messages.Count; i++)
        {
            var image = turn.Messages[i].Image;
            if (image == null) continue;
            imageId = image.Input != null ? ResolveImage(image.Input, image, timings)
                : imageId ?? session?.LastImageId ?? throw RpcErrors.InvalidArgument(image.RegionField,
                    "a region needs an image: send one in this turn or an earlier turn of the session");
            var (block, hit) = await VisualTokensAsync(model, imageId, image, timings, ct).ConfigureAwait(false);
            visuals[i] = block;
            images++;
            if (hit) hits++;
        }
        timings.VisualCacheHit = images > 0 && hits == images;
        var messages = turn.Messages.Select((m, i) => m.Role == ChatRole.User
            ? ChatMessage.User(m.Text.Length > 0 ? m.Text : model.Manifest.DefaultInstruction, visuals[i])
            : ChatMessage.Assistant(m.Text)).ToArray();
        uint visualTokens = (uint)visuals.Sum(v => v?.Count ?? 0);

        bool ownSession = session == null;
        session ??= sessions.Create(model, turn.SystemPrompt.Length > 0 ? turn.SystemPrompt : null);
        if (Interlocked.Exchange(ref session.Busy, 1) == 1)
            throw new RpcException(new Status(StatusCode.FailedPrecondition, $"session '{session.Id}' is answering another turn; wait for it to finish"));
        bool announced = false;
        try
        {
            session.Touch();
            if (imageId != null) session.LastImageId = imageId;
            await StreamAsync(model, session, messages, visualTokens, turn.Sampling, timings, arrived, e =>
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

    async Task StreamAsync(RegionChatModel model, ChatSessionEntry session, ChatMessage[] messages, uint visualTokens,
        SamplingParams sampling, PbV1.Timings timings, Stopwatch arrived, Func<PbV1.ChatEvent, Task> emit, string requestId,
        TurnFields f, CancellationToken ct)
    {
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(ct, shutdown.Token);
        bool started = false, first = true;
        try
        {
            var stream = session.Chat.GenerateAsync(messages, model.WithModelStops(sampling), linked.Token);
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
    string ResolveImage(PbV1.ImageInput input, TurnImage image, PbV1.Timings timings)
    {
        switch (input.SourceCase)
        {
            case PbV1.ImageInput.SourceOneofCase.Data:
                if (input.Data.Length > options.Value.MaxImageBytes)
                    throw RpcErrors.InvalidArgument(image.DataField, $"the image is {input.Data.Length} bytes; the limit is {options.Value.MaxImageBytes}");
                var sw = Stopwatch.StartNew();
                try
                {
                    // Checked by a full decode when new; the pixels are decoded again only on a visual-cache miss, which
                    // keeps memory flat under many images.
                    var stored = images.Put(input.Data.Memory, out bool decoded);
                    if (decoded) timings.ImageDecodeMs += sw.Elapsed.TotalMilliseconds;
                    return stored.Id;
                }
                catch (InvalidImageException e) { throw RpcErrors.InvalidArgument(image.DataField, e.Message); }
            case PbV1.ImageInput.SourceOneofCase.ImageId:
                string? id = ImageStore.NormaliseId(input.ImageId);
                if (id == null) throw RpcErrors.InvalidArgument(image.ImageField + ".image_id", "must be \"sha256:\" followed by 64 hex digits");
                if (!images.TryGet(id, out _)) throw RpcErrors.NotFound($"image '{id}' is not stored here (never uploaded, or dropped from the image store); upload it again");
                return id;
            default:
                throw RpcErrors.InvalidArgument(image.ImageField, "needs data or image_id");
        }
    }

    /// <summary>The visual tokens of (model, image, region), from the cache or the vision batcher; true when cached.</summary>
    async Task<(EmbeddingBlock Block, bool Hit)> VisualTokensAsync(RegionChatModel model, string imageId, TurnImage image,
        PbV1.Timings timings, CancellationToken ct)
    {
        var key = new VisualTokenCache.Key(model.Id, imageId, image.Region.CacheKey);
        if (visualCache.TryGet(key, out var cached))
        {
            metrics.VisualCacheHits.Add(1);
            return (cached.Block, true);
        }
        metrics.VisualCacheMisses.Add(1);
        if (!images.TryGet(imageId, out var stored)) throw RpcErrors.NotFound($"image '{imageId}' was dropped from the image store; upload it again");
        var sw = Stopwatch.StartNew();
        PreprocessedImage input;
        try
        {
            using var decoded = image.Region.Decode(stored, images.Limits);
            timings.ImageDecodeMs += sw.Elapsed.TotalMilliseconds;
            input = model.Preprocess(decoded.Image, decoded.Region);
        }
        catch (InvalidRegionException e)
        {
            throw RpcErrors.InvalidArgument(image.Region.ErrorField(image.RegionField, e), e.Description);
        }
        catch (InvalidImageException e) { throw RpcErrors.InvalidArgument(image.ImageField, e.Message); }
        var tokens = await vision.EncodeAsync(model, input, ct).ConfigureAwait(false);
        timings.VisionEncodeMs += tokens.EncodeMs;
        visualCache.Set(key, tokens);
        return (tokens.Block, false);
    }
}
