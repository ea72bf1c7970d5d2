using System.Runtime.CompilerServices;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Core.Interceptors;
using Grpc.Net.Client;
using Grpc.Net.Client.Configuration;
using System.Security.Cryptography;
using RegionChat.Client.Internal;
using PbV1 = RegionChat.Protos.V1;

namespace RegionChat.Client;

/// <summary>
/// A client of a RegionChat server (gRPC): store images, chat about regions with streamed answers, caption, list models,
/// end sessions. Thread-safe; keep one per server and reuse it (it holds one HTTP/2 connection).
/// <para>Failed calls throw <see cref="RegionChatException"/> (status, server message, field violations); a cancel through
/// the caller's token throws <see cref="OperationCanceledException"/> and stops the server's work on the call.
/// For anything not wrapped here, <see cref="Grpc"/> is the generated client on the same channel and API key.</para>
/// </summary>
public sealed class RegionChatClient : IDisposable
{
    /// <summary>The server's default address (h2c on the loopback).</summary>
    public const string DefaultAddress = "http://127.0.0.1:50051";

    /// <summary>UploadImage sends images in pieces of this size.</summary>
    public const int UploadChunkBytes = 256 << 10;

    /// <summary><see cref="StoreImageAsync(ReadOnlyMemory{byte}, CancellationToken)"/> sends images up to this size as one
    /// PutImage, larger ones as an UploadImage stream (as one PutImage too where the channel has no client streaming: gRPC-Web).</summary>
    public const int PutImageBytes = 1 << 20;

    /// <summary>The header (gRPC metadata) that carries a session id, so that a load balancer in front of several servers
    /// (deploy/nginx) keeps a conversation on one replica; the server echoes it on its responses.</summary>
    public const string SessionHeader = "x-regionchat-session";

    /// <summary>The default channel's retry policy: a call that fails UNAVAILABLE before the server answered anything
    /// (its replica died or is stopping, a balancer found no replica) is sent again, up to 4 attempts in all, each after
    /// a random wait of up to 0.2, 0.4 and 0.8 s. A call is never resent once an answer began, so a turn never runs twice.</summary>
    public static MethodConfig RetryUnavailable { get; } = new()
    {
        Names = { MethodName.Default },
        RetryPolicy = new RetryPolicy
        {
            MaxAttempts = 4, InitialBackoff = TimeSpan.FromMilliseconds(200), MaxBackoff = TimeSpan.FromSeconds(2), BackoffMultiplier = 2,
            RetryableStatusCodes = { StatusCode.Unavailable },
        },
    };

    /// <summary>The default channel's retry policy for chat turns (it replaces <see cref="RetryUnavailable"/> for Chat): a
    /// turn refused UNAVAILABLE, or ABORTED (another turn of its session holds the session's lease, on this or another
    /// replica: this one did not start), is sent again, up to 6 attempts in all, each after a random wait of up to 0.5, 1,
    /// 2, 4 and 4 s. Never once an answer began.</summary>
    public static MethodConfig RetryChatTurns { get; } = new()
    {
        Names = { new MethodName { Service = "regionchat.v1.RegionChat", Method = "Chat" } },
        RetryPolicy = new RetryPolicy
        {
            MaxAttempts = 6, InitialBackoff = TimeSpan.FromMilliseconds(500), MaxBackoff = TimeSpan.FromSeconds(4), BackoffMultiplier = 2,
            RetryableStatusCodes = { StatusCode.Unavailable, StatusCode.Aborted },
        },
    };

    /// <summary>The options a client made without any of the caller's has (new each time, to change and pass back): cancels
    /// throw <see cref="OperationCanceledException"/>, <see cref="RetryUnavailable"/> and <see cref="RetryChatTurns"/>, and no receive limit — grpc-dotnet's
    /// default of 4 MiB is less than legal answers reach (a classification of 16 regions over 1000 long labels, the
    /// model list with large label sets), and the server bounds its answers by its own limits.</summary>
    public static GrpcChannelOptions DefaultChannelOptions() => new()
    {
        ThrowOperationCanceledOnCancellation = true,
        ServiceConfig = new ServiceConfig { MethodConfigs = { RetryUnavailable, RetryChatTurns } },
        MaxReceiveMessageSize = null,
    };

    readonly GrpcChannel channel;
    readonly ImageUploads uploads = new();
    volatile string? routingKey;
    volatile bool clientStreaming = true; // false once the channel refused UploadImage (gRPC-Web)

    /// <summary>Connects to <paramref name="address"/> ("http://host:port" for h2c, "https://…" for TLS; "host:port"
    /// means http). With an <paramref name="apiKey"/>, every call carries "authorization: Bearer KEY".</summary>
    public RegionChatClient(string address = DefaultAddress, string? apiKey = null) : this(ParseAddress(address), apiKey) { }

    /// <summary>Connects with channel options of the caller's (TLS certificates, an HTTP handler such as gRPC-Web's,
    /// retries, message size limits). They replace the defaults: start from <see cref="DefaultChannelOptions"/> to keep
    /// the retries and the receive limit.</summary>
    public RegionChatClient(Uri address, string? apiKey = null, GrpcChannelOptions? channelOptions = null)
    {
        ArgumentNullException.ThrowIfNull(address);
        Address = address;
        channel = GrpcChannel.ForAddress(address, channelOptions ?? DefaultChannelOptions());
        CallInvoker invoker = channel.CreateCallInvoker();
        string? header = string.IsNullOrEmpty(apiKey) ? null : "Bearer " + apiKey;
        invoker = invoker.Intercept(new CallHeaders(header, () => routingKey));
        Grpc = new PbV1.RegionChat.RegionChatClient(invoker);
    }

    /// <summary>The server's address.</summary>
    public Uri Address { get; }

    /// <summary>Sent as the <see cref="SessionHeader"/> of every call but chat turns (which send their session's id), so
    /// that a load balancer hashing on it sends this client's calls to one replica: images stored with
    /// <see cref="StoreImageAsync(ReadOnlyMemory{byte}, CancellationToken)"/> are then on the replica that captions them.
    /// Null (the default): no header, a balancer spreads the calls. It goes on calls made through <see cref="Grpc"/> too
    /// when they carry no such header, but never on a Chat turn: a raw Chat turn routes by its session only if it sends
    /// the session id as the header itself.</summary>
    public string? RoutingKey
    {
        get => routingKey;
        set => routingKey = value;
    }

    /// <summary>A fresh session id as the server makes them ("s-" and 32 hex digits); a new session may take it.</summary>
    public static string NewSessionId() => "s-" + Guid.NewGuid().ToString("N");

    /// <summary>The generated gRPC client (same channel, same API key), for calls that need the raw request or call
    /// options this wrapper does not take (deadlines, headers). On the default channel a call whose deadline passes
    /// throws <see cref="OperationCanceledException"/> (grpc-dotnet's ThrowOperationCanceledOnCancellation), not an
    /// RpcException with DEADLINE_EXCEEDED.</summary>
    public PbV1.RegionChat.RegionChatClient Grpc { get; }

    /// <summary>
    /// Stores an image on the server once per client: the first call uploads it (PutImage, or an UploadImage stream
    /// above <see cref="PutImageBytes"/>), later calls with the same bytes return its id without a call. When a request
    /// fails because the server has dropped the image from its store (NotFound naming its id), the client forgets it,
    /// so the next store uploads it again. Concurrent stores of the same image share one upload.
    /// </summary>
    public Task<PbV1.ImageRef> StoreImageAsync(ReadOnlyMemory<byte> encoded, CancellationToken cancellationToken = default)
    {
        if (encoded.IsEmpty) throw new ArgumentException("an image needs its encoded bytes", nameof(encoded));
        return StoreImageAsync(ContentId(encoded.Span), _ => Task.FromResult(encoded), cancellationToken);
    }

    /// <summary>As <see cref="StoreImageAsync(ReadOnlyMemory{byte}, CancellationToken)"/> for a caller that already knows
    /// the image's content id (<see cref="ContentId"/> of its bytes): <paramref name="read"/> is called only when the image
    /// has to be uploaded. An upload shared by concurrent callers runs on the first caller's token; each caller's token
    /// ends its own wait, and when the first caller cancels, the others upload the image again on theirs.</summary>
    public Task<PbV1.ImageRef> StoreImageAsync(string contentId, Func<CancellationToken, Task<ReadOnlyMemory<byte>>> read,
        CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(contentId);
        ArgumentNullException.ThrowIfNull(read);
        return uploads.GetOrUploadAsync(contentId, async () =>
        {
            var bytes = await read(cancellationToken).ConfigureAwait(false);
            if (bytes.IsEmpty) throw new ArgumentException($"image '{contentId}': no bytes to store", nameof(read));
            if (bytes.Length <= PutImageBytes || !clientStreaming) return await PutImageAsync(bytes, cancellationToken).ConfigureAwait(false);
            try { return await UploadAsync(bytes, cancellationToken).ConfigureAwait(false); }
            catch (RegionChatException e) when (e.StatusCode == StatusCode.Unimplemented)
            {
                // gRPC-Web carries no client streaming: the image goes as one PutImage message (up to the server's limit).
                clientStreaming = false;
                return await PutImageAsync(bytes, cancellationToken).ConfigureAwait(false);
            }
        }, cancellationToken);
    }

    /// <summary>Whether this client has stored the image with this content id (and has not seen the server drop it).</summary>
    public bool IsImageStored(string contentId) => uploads.Contains(contentId);

    /// <summary>Forgets that the server holds this image, so the next <see cref="StoreImageAsync(ReadOnlyMemory{byte}, CancellationToken)"/>
    /// uploads it again (the client does this itself when a request fails because the image is gone).</summary>
    public void ForgetImage(string contentId) => uploads.Forget(contentId);

    /// <summary>An image's content id as the server computes it: "sha256:" and the lower-case hex SHA-256 of the bytes.</summary>
    public static string ContentId(ReadOnlySpan<byte> encoded) => "sha256:" + Convert.ToHexStringLower(SHA256.HashData(encoded));

    /// <summary>Stores an image on the server; pass the result (or its <c>ImageId</c>) as a <see cref="ChatImage"/>.
    /// The id is the SHA-256 of the bytes, so storing the same image twice is harmless.</summary>
    public Task<PbV1.ImageRef> PutImageAsync(ReadOnlyMemory<byte> encoded, CancellationToken cancellationToken = default) =>
        UnaryAsync("PutImage", ct => Grpc.PutImageAsync(new PbV1.PutImageRequest { Data = ByteString.CopyFrom(encoded.Span) }, cancellationToken: ct),
            cancellationToken);

    /// <summary>Stores a large image read from <paramref name="content"/>, streamed in pieces (no single message
    /// holds it all). Returns the same id as <see cref="PutImageAsync"/>.</summary>
    public async Task<PbV1.ImageRef> UploadImageAsync(Stream content, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(content);
        try
        {
            using var call = Grpc.UploadImage(cancellationToken: cancellationToken);
            var buffer = new byte[UploadChunkBytes];
            int read;
            // A seekable stream's size goes with the first chunk, so an image over the server's limit is refused at once.
            ulong total = content.CanSeek ? (ulong)Math.Max(0, content.Length - content.Position) : 0;
            while ((read = await content.ReadAsync(buffer, cancellationToken).ConfigureAwait(false)) > 0)
            {
                await call.WriteAsync(new PbV1.ImageChunk { Data = ByteString.CopyFrom(buffer, 0, read), TotalBytes = total }, cancellationToken)
                    .ConfigureAwait(false);
                total = 0;
            }
            await call.RequestStream.CompleteAsync().ConfigureAwait(false);
            return await call.ResponseAsync.ConfigureAwait(false);
        }
        catch (RpcException e) { throw RpcErrors.Map("UploadImage", e, cancellationToken, Address); }
    }

    async Task<PbV1.ImageRef> UploadAsync(ReadOnlyMemory<byte> bytes, CancellationToken cancellationToken)
    {
        try
        {
            using var call = Grpc.UploadImage(cancellationToken: cancellationToken);
            for (int offset = 0; offset < bytes.Length; offset += UploadChunkBytes)
            {
                var chunk = bytes.Slice(offset, Math.Min(UploadChunkBytes, bytes.Length - offset));
                var message = new PbV1.ImageChunk { Data = ByteString.CopyFrom(chunk.Span), TotalBytes = offset == 0 ? (ulong)bytes.Length : 0 };
                await call.WriteAsync(message, cancellationToken).ConfigureAwait(false);
            }
            await call.RequestStream.CompleteAsync().ConfigureAwait(false);
            return await call.ResponseAsync.ConfigureAwait(false);
        }
        catch (RpcException e) { throw RpcErrors.Map("UploadImage", e, cancellationToken, Address); }
    }

    /// <summary>Runs one chat turn and streams its events: first <c>Started</c> (session id, prompt and cached tokens),
    /// then <c>Delta</c> pieces of the answer, then one <c>Finished</c> (finish reason, usage, timings). Stopping the
    /// enumeration early or cancelling the token cancels the turn on the server.
    /// <para>The call carries the session id in the <see cref="SessionHeader"/> header; a turn that starts a session picks
    /// its id here (<see cref="NewSessionId"/>), so a load balancer can route the first turn already.</para></summary>
    public IAsyncEnumerable<PbV1.ChatEvent> ChatStreamAsync(ChatTurn turn, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(turn);
        return ChatStreamAsync(turn.ToProto(), cancellationToken);
    }

    /// <summary>As <see cref="ChatStreamAsync(ChatTurn, CancellationToken)"/>, for a request built by hand.</summary>
    public async IAsyncEnumerable<PbV1.ChatEvent> ChatStreamAsync(PbV1.ChatRequest request,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        // Disposing the call (when the caller stops early) cancels it on the server and frees its sequence.
        var headers = new Metadata { { SessionHeader, request.SessionId.Length > 0 ? request.SessionId : NewSessionId() } };
        using var call = Grpc.Chat(request, headers, cancellationToken: cancellationToken);
        while (true)
        {
            bool more;
            try { more = await call.ResponseStream.MoveNext(cancellationToken).ConfigureAwait(false); }
            catch (RpcException e)
            {
                NoteImageGone(e, request.Message?.Image);
                throw RpcErrors.Map("Chat", e, cancellationToken, Address);
            }
            if (!more) yield break;
            yield return call.ResponseStream.Current;
        }
    }

    /// <summary>Runs one chat turn to the end and returns the whole answer.</summary>
    public async Task<ChatAnswer> ChatAsync(ChatTurn turn, CancellationToken cancellationToken = default)
    {
        PbV1.ChatStarted? started = null;
        PbV1.ChatFinished? finished = null;
        var text = new System.Text.StringBuilder();
        var logprobs = new List<PbV1.TokenLogprob>();
        await foreach (var e in ChatStreamAsync(turn, cancellationToken).ConfigureAwait(false))
        {
            switch (e.EventCase)
            {
                case PbV1.ChatEvent.EventOneofCase.Started: started = e.Started; break;
                case PbV1.ChatEvent.EventOneofCase.Delta:
                    text.Append(e.Delta.Text);
                    logprobs.AddRange(e.Delta.Logprobs);
                    break;
                case PbV1.ChatEvent.EventOneofCase.Finished: finished = e.Finished; break;
            }
        }
        if (started == null || finished == null)
            throw RpcErrors.Protocol("Chat", "the server ended the chat stream without its first or last event");
        return new ChatAnswer(text.ToString(), started, finished) { Logprobs = logprobs };
    }

    /// <summary>Captions one region of one image (no session is kept). <paramref name="instruction"/> null = the model's
    /// default caption prompt.</summary>
    public Task<PbV1.CaptionResponse> CaptionAsync(ChatImage image, ImageRegion? region = null, string? instruction = null,
        GenerationOptions? generation = null, string? model = null, CancellationToken cancellationToken = default) =>
        CaptionAsync(CaptionRequest(image, region, instruction, generation, model), cancellationToken);

    /// <summary>As <see cref="CaptionAsync(ChatImage, ImageRegion?, string?, GenerationOptions?, string?, CancellationToken)"/>,
    /// for a request built by hand.</summary>
    public Task<PbV1.CaptionResponse> CaptionAsync(PbV1.CaptionRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        return UnaryOnImageAsync("Caption", request.Image, () => Grpc.CaptionAsync(request, cancellationToken: cancellationToken), cancellationToken);
    }

    /// <summary>A unary call about an image: a failure is mapped to a RegionChatException, and an image id the server no
    /// longer holds is forgotten, so the next StoreImageAsync uploads it again.</summary>
    async Task<T> UnaryOnImageAsync<T>(string method, PbV1.ImageInput? image, Func<AsyncUnaryCall<T>> start, CancellationToken cancellationToken)
    {
        try
        {
            using var call = start();
            return await call.ResponseAsync.ConfigureAwait(false);
        }
        catch (RpcException e)
        {
            NoteImageGone(e, image);
            throw RpcErrors.Map(method, e, cancellationToken, Address);
        }
    }

    /// <summary>
    /// Zero-shot classification of regions of one image over text labels (the model's classifier): per region the labels
    /// ranked best first with probabilities and logits. No regions = the whole image; <paramref name="top"/> 0 = all labels.
    /// </summary>
    public Task<PbV1.ClassifyResponse> ClassifyAsync(ChatImage image, IReadOnlyList<ImageRegion> regions, IReadOnlyList<string> labels,
        int top = 0, string? model = null, CancellationToken cancellationToken = default) =>
        ClassifyAsync(ClassifyRequest(image, regions, labels, top, model), cancellationToken);

    internal static PbV1.ClassifyRequest ClassifyRequest(ChatImage image, IReadOnlyList<ImageRegion> regions, IReadOnlyList<string> labels, int top,
        string? model)
    {
        ArgumentNullException.ThrowIfNull(image);
        ArgumentNullException.ThrowIfNull(regions);
        ArgumentNullException.ThrowIfNull(labels);
        ArgumentOutOfRangeException.ThrowIfNegative(top);
        var request = new PbV1.ClassifyRequest { Model = model ?? "", Image = image.ToProto(), Top = (uint)top };
        request.Regions.AddRange(regions.Select(r => r.ToProto()));
        request.Labels.AddRange(labels);
        return request;
    }

    /// <summary>As <see cref="ClassifyAsync(ChatImage, IReadOnlyList{ImageRegion}, IReadOnlyList{string}, int, string?, CancellationToken)"/>,
    /// for a request built by hand.</summary>
    public Task<PbV1.ClassifyResponse> ClassifyAsync(PbV1.ClassifyRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        return UnaryOnImageAsync("Classify", request.Image, () => Grpc.ClassifyAsync(request, cancellationToken: cancellationToken), cancellationToken);
    }

    /// <summary>
    /// Embeddings in the model's joint CLIP space: each region of <paramref name="image"/> (none = the whole image; no image
    /// = texts only) and each text, L2-normalised (a dot product is a cosine), as float arrays in request order.
    /// </summary>
    public async Task<(float[][] Regions, float[][] Texts)> EmbedAsync(ChatImage? image, IReadOnlyList<ImageRegion>? regions = null,
        IReadOnlyList<string>? texts = null, string? model = null, CancellationToken cancellationToken = default)
    {
        var response = await EmbedAsync(EmbedRequest(image, regions, texts, model), cancellationToken).ConfigureAwait(false);
        return (response.Regions.Select(e => e.Values.ToArray()).ToArray(), response.Texts.Select(e => e.Values.ToArray()).ToArray());
    }

    internal static PbV1.EmbedRequest EmbedRequest(ChatImage? image, IReadOnlyList<ImageRegion>? regions, IReadOnlyList<string>? texts, string? model)
    {
        var request = new PbV1.EmbedRequest { Model = model ?? "", Image = image?.ToProto() };
        if (regions != null) request.Regions.AddRange(regions.Select(r => r.ToProto()));
        if (texts != null) request.Texts.AddRange(texts);
        return request;
    }

    /// <summary>As <see cref="EmbedAsync(ChatImage?, IReadOnlyList{ImageRegion}?, IReadOnlyList{string}?, string?, CancellationToken)"/>,
    /// for a request built by hand (with the timings).</summary>
    public Task<PbV1.EmbedResponse> EmbedAsync(PbV1.EmbedRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        return UnaryOnImageAsync("Embed", request.Image, () => Grpc.EmbedAsync(request, cancellationToken: cancellationToken), cancellationToken);
    }

    /// <summary>Opens a CaptionStream call: many items over one stream, several in flight, a result per item. Dispose it
    /// when done; <paramref name="cancellationToken"/> cancels the whole call.</summary>
    public CaptionStream OpenCaptionStream(CancellationToken cancellationToken = default) =>
        new(this, Grpc.CaptionStream(cancellationToken: cancellationToken), cancellationToken);

    /// <summary>Opens a ClassifyStream call: many classification items over one stream, several in flight, a result per
    /// item. Dispose it when done; <paramref name="cancellationToken"/> cancels the whole call.</summary>
    public ClassifyStream OpenClassifyStream(CancellationToken cancellationToken = default) =>
        new(this, Grpc.ClassifyStream(cancellationToken: cancellationToken), cancellationToken);

    /// <summary>Opens an EmbedStream call: many embedding items over one stream, several in flight, a result per item.
    /// Dispose it when done; <paramref name="cancellationToken"/> cancels the whole call.</summary>
    public EmbedStream OpenEmbedStream(CancellationToken cancellationToken = default) =>
        new(this, Grpc.EmbedStream(cancellationToken: cancellationToken), cancellationToken);

    internal static PbV1.CaptionRequest CaptionRequest(ChatImage image, ImageRegion? region, string? instruction, GenerationOptions? generation, string? model)
    {
        ArgumentNullException.ThrowIfNull(image);
        var request = new PbV1.CaptionRequest
        {
            Model = model ?? "",
            Image = image.ToProto(),
            Region = region?.ToProto(),
            Instruction = instruction ?? "",
            Sampling = generation?.ToSampling(),
            MaxTokens = generation?.MaxTokensField() ?? 0,
        };
        if (generation?.Stop is { } stop) request.Stop.AddRange(stop);
        return request;
    }

    /// <summary>A request that named a stored image failed because the server no longer holds it: forget it, so the
    /// next store uploads it again.</summary>
    void NoteImageGone(RpcException e, PbV1.ImageInput? image)
    {
        if (image?.ImageId is { Length: > 0 } id && RpcErrors.IsImageGone(e.StatusCode, e.Status.Detail, id)) ForgetImage(id);
    }

    /// <summary>The models the server serves and its default.</summary>
    public Task<PbV1.ListModelsResponse> ListModelsAsync(CancellationToken cancellationToken = default) =>
        UnaryAsync("ListModels", ct => Grpc.ListModelsAsync(new PbV1.ListModelsRequest(), cancellationToken: ct), cancellationToken);

    /// <summary>A text as the model's LLM token ids, each with its bytes (the ids <see cref="GenerationOptions.LogitBias"/>
    /// takes); BOS first with <paramref name="addBos"/>. <paramref name="model"/> "" is the server's default.</summary>
    public Task<PbV1.TokenizeResponse> TokenizeAsync(string text, string model = "", bool addBos = false,
        CancellationToken cancellationToken = default)
    {
        var request = new PbV1.TokenizeRequest { Text = text, Model = model, AddBos = addBos };
        return UnaryAsync("Tokenize", ct => Grpc.TokenizeAsync(request, cancellationToken: ct), cancellationToken);
    }

    /// <summary>The text token ids stand for. <paramref name="model"/> "" is the server's default.</summary>
    public async Task<string> DetokenizeAsync(IEnumerable<int> tokenIds, string model = "", CancellationToken cancellationToken = default)
    {
        var request = new PbV1.DetokenizeRequest { Model = model, TokenIds = { tokenIds } };
        return (await UnaryAsync("Detokenize", ct => Grpc.DetokenizeAsync(request, cancellationToken: ct), cancellationToken)
            .ConfigureAwait(false)).Text;
    }

    /// <summary>Ends a session now and frees its KV cache. NotFound when it is unknown or already gone. The call carries
    /// the session id in the <see cref="SessionHeader"/>, so a load balancer sends it to the replica that holds the session.</summary>
    public Task EndSessionAsync(string sessionId, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(sessionId);
        var request = new PbV1.EndSessionRequest { SessionId = sessionId };
        return UnaryAsync("EndSession", ct => Grpc.EndSessionAsync(request, new Metadata { { SessionHeader, sessionId } }, cancellationToken: ct),
            cancellationToken);
    }

    /// <summary>This client as a Microsoft.Extensions.AI <see cref="Microsoft.Extensions.AI.IChatClient"/>; it does not
    /// own this client (dispose this one yourself).</summary>
    public RegionChatChatClient AsIChatClient(string? defaultModelId = null) => new(this, defaultModelId);

    async Task<T> UnaryAsync<T>(string method, Func<CancellationToken, AsyncUnaryCall<T>> call, CancellationToken ct)
    {
        try
        {
            using var c = call(ct);
            return await c.ResponseAsync.ConfigureAwait(false);
        }
        catch (RpcException e) { throw RpcErrors.Map(method, e, ct, Address); }
    }

    /// <summary>A server address as a URI: "http://host:port" (h2c), "https://host:port" (TLS), or "host:port", which
    /// means http. Throws <see cref="ArgumentException"/> naming the address when it is none of these.</summary>
    public static Uri ParseAddress(string address)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(address);
        string a = address.Trim();
        if (!a.Contains("://", StringComparison.Ordinal)) a = "http://" + a;
        if (!Uri.TryCreate(a, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
            throw new ArgumentException($"'{address}' is not an http:// or https:// address");
        return uri;
    }

    /// <summary>Closes the connection; calls still running are cancelled.</summary>
    public void Dispose() => channel.Dispose();
}
