using System.Diagnostics;
using Google.Protobuf;
using Grpc.Core;
using Microsoft.Extensions.Options;
using RegionChat.Server.Internal;
using RegionChat.Vision.Imaging;
using PbV1 = RegionChat.Protos.V1;

namespace RegionChat.Server.Services;

/// <summary>The regionchat.v1.RegionChat gRPC service (see protos/regionchat/v1/region_chat.proto).</summary>
internal sealed class RegionChatService(
    TurnRunner turns, ModelRegistry models, ImageStore images, SessionStore sessions, AdmissionQueue admission,
    ServerMetrics metrics, ShutdownSignal shutdown, IOptions<ServerOptions> options, ILogger<RegionChatService> log)
    : Generated.RegionChat.RegionChatBase
{
    ServerOptions Options => options.Value;

    public override async Task Chat(PbV1.ChatRequest request, IServerStreamWriter<PbV1.ChatEvent> responseStream, ServerCallContext context)
    {
        await Run("Chat", context, async requestId =>
        {
            var v = new RequestValidation(Options);
            v.Text(request.Message?.Text ?? "", "message.text", required: request.Message?.Image == null && request.Message?.Region == null);
            if (request.Message == null) v.Add("message", "is required");
            var sampling = v.Sampling(request.Sampling, request.MaxTokens, request.Stop);
            v.Text(request.SystemPrompt, "system_prompt", required: false);
            v.ThrowIfAny();
            var m = request.Message!;
            var image = m.Image == null && m.Region == null ? null
                : new TurnImage(m.Image, new ProtoRegionSource(m.Region), "message.image", "message.region");
            var turn = new TurnRequest(request.Model, request.SessionId, [TurnMessage.User(m.Text, image)], sampling,
                request.SystemPrompt, KeepSession: true, TurnFields.Chat);
            await turns.RunAsync(turn, e => responseStream.WriteAsync(e), requestId, context.CancellationToken).ConfigureAwait(false);
        }).ConfigureAwait(false);
    }

    public override async Task<PbV1.CaptionResponse> Caption(PbV1.CaptionRequest request, ServerCallContext context)
    {
        PbV1.CaptionResponse? response = null;
        await Run("Caption", context, async requestId =>
            response = await CaptionAsync(request, "", requestId, context.CancellationToken).ConfigureAwait(false)).ConfigureAwait(false);
        return response!;
    }

    async Task<PbV1.CaptionResponse> CaptionAsync(PbV1.CaptionRequest request, string prefix, string requestId, CancellationToken ct)
    {
        var v = new RequestValidation(Options, prefix);
        if (request.Image == null) v.Add("image", "is required");
        v.Text(request.Instruction, "instruction", required: false);
        var sampling = v.Sampling(request.Sampling, request.MaxTokens, request.Stop);
        v.ThrowIfAny();
        var image = new TurnImage(request.Image, new ProtoRegionSource(request.Region), prefix + "image", prefix + "region");
        var turn = new TurnRequest(request.Model, "", [TurnMessage.User(request.Instruction, image)], sampling, "",
            KeepSession: false, TurnFields.Caption(prefix));
        var text = new System.Text.StringBuilder();
        var response = new PbV1.CaptionResponse();
        await turns.RunAsync(turn, e =>
        {
            switch (e.EventCase)
            {
                case PbV1.ChatEvent.EventOneofCase.Started: response.Model = e.Started.Model; break;
                case PbV1.ChatEvent.EventOneofCase.Delta: text.Append(e.Delta.Text); break;
                case PbV1.ChatEvent.EventOneofCase.Finished:
                    response.Reason = e.Finished.Reason;
                    response.Usage = e.Finished.Usage;
                    response.Timings = e.Finished.Timings;
                    break;
            }
            return Task.CompletedTask;
        }, requestId, ct).ConfigureAwait(false);
        response.Text = text.ToString();
        return response;
    }

    public override Task CaptionStream(IAsyncStreamReader<PbV1.CaptionStreamRequest> requestStream,
        IServerStreamWriter<PbV1.CaptionStreamResponse> responseStream, ServerCallContext context) =>
        Run("CaptionStream", context, async _ =>
        {
            // Items run concurrently (bounded), so the engine batches their decoding; results go out as they finish.
            using var writeGate = new SemaphoreSlim(1, 1);
            using var slots = new SemaphoreSlim(Math.Max(1, Options.ParallelSequences));
            var running = new List<Task>();
            var ct = context.CancellationToken;
            try
            {
                await foreach (var item in requestStream.ReadAllAsync(ct).ConfigureAwait(false))
                {
                    await slots.WaitAsync(ct).ConfigureAwait(false);
                    running.RemoveAll(t => t.IsCompleted);
                    running.Add(CaptionItemAsync(item, responseStream, writeGate, slots, ct));
                }
            }
            finally
            {
                // Never leave items running (and writing) after the call has ended.
                try { await Task.WhenAll(running).ConfigureAwait(false); }
                catch (OperationCanceledException) when (ct.IsCancellationRequested) { }
            }
        }, admit: false);

    /// <summary>One CaptionStream item: admitted like a call of its own; its failure becomes an error result for its id.</summary>
    async Task CaptionItemAsync(PbV1.CaptionStreamRequest item, IServerStreamWriter<PbV1.CaptionStreamResponse> responseStream,
        SemaphoreSlim writeGate, SemaphoreSlim slots, CancellationToken ct)
    {
        await Task.Yield();
        try
        {
            var result = new PbV1.CaptionStreamResponse { Id = item.Id };
            string requestId = NewRequestId();
            try
            {
                if (shutdown.IsShuttingDown) throw RpcErrors.Unavailable("the server is shutting down");
                using var ticket = admission.TryEnter() ?? throw RpcErrors.ResourceExhausted($"the server's queue is full ({admission.Capacity} requests); retry later");
                if (item.Request == null) throw RpcErrors.InvalidArgument("request", "is required");
                metrics.ActiveRequests.Add(1);
                try { result.Caption = await CaptionAsync(item.Request, "request.", requestId, ct).ConfigureAwait(false); }
                finally { metrics.ActiveRequests.Add(-1); }
                metrics.Requests.Add(1, new("method", "CaptionStream.item"), new("status", "OK"));
            }
            catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
            {
                var rpc = ToRpcException(e, requestId);
                if (rpc.StatusCode == StatusCode.Internal) log.LogError(e, "CaptionStream item {Id} failed", item.Id);
                metrics.Requests.Add(1, new("method", "CaptionStream.item"), new("status", rpc.StatusCode.ToString()));
                result.Error = rpc.GetRpcStatus() ?? new Google.Rpc.Status { Code = (int)rpc.StatusCode, Message = rpc.Status.Detail };
            }
            await writeGate.WaitAsync(ct).ConfigureAwait(false);
            try { await responseStream.WriteAsync(result, ct).ConfigureAwait(false); }
            finally { writeGate.Release(); }
        }
        finally { slots.Release(); }
    }

    public override Task<PbV1.ImageRef> PutImage(PbV1.PutImageRequest request, ServerCallContext context) =>
        Unary("PutImage", context, _ => Task.FromResult(Store(request.Data.Memory, "data")));

    public override async Task<PbV1.ImageRef> UploadImage(IAsyncStreamReader<PbV1.ImageChunk> requestStream, ServerCallContext context)
    {
        PbV1.ImageRef? result = null;
        await Run("UploadImage", context, async _ =>
        {
            using var buffer = new MemoryStream();
            await foreach (var chunk in requestStream.ReadAllAsync(context.CancellationToken).ConfigureAwait(false))
            {
                if (buffer.Length + chunk.Data.Length > Options.MaxImageBytes)
                    throw RpcErrors.InvalidArgument("data", $"the upload exceeds the image limit of {Options.MaxImageBytes} bytes");
                chunk.Data.WriteTo(buffer);
            }
            if (buffer.Length == 0) throw RpcErrors.InvalidArgument("data", "no bytes were uploaded");
            result = Store(buffer.GetBuffer().AsMemory(0, (int)buffer.Length), "data");
        }, admit: false).ConfigureAwait(false);
        return result!;
    }

    PbV1.ImageRef Store(ReadOnlyMemory<byte> bytes, string field)
    {
        if (bytes.Length == 0) throw RpcErrors.InvalidArgument(field, "is empty");
        if (bytes.Length > Options.MaxImageBytes) throw RpcErrors.InvalidArgument(field, $"the image is {bytes.Length} bytes; the limit is {Options.MaxImageBytes}");
        try
        {
            var stored = images.Put(bytes, out _);
            return new PbV1.ImageRef { ImageId = stored.Id, Width = (uint)stored.Width, Height = (uint)stored.Height, SizeBytes = (ulong)bytes.Length };
        }
        catch (InvalidImageException e) { throw RpcErrors.InvalidArgument(field, e.Message); }
    }

    public override Task<PbV1.ListModelsResponse> ListModels(PbV1.ListModelsRequest request, ServerCallContext context) =>
        Unary("ListModels", context, _ => Task.FromResult(ModelCatalog.List(models)), admit: false);

    public override Task<PbV1.EndSessionResponse> EndSession(PbV1.EndSessionRequest request, ServerCallContext context) =>
        Unary("EndSession", context, _ => sessions.Remove(request.SessionId)
            ? Task.FromResult(new PbV1.EndSessionResponse())
            : throw RpcErrors.NotFound($"session '{request.SessionId}' is unknown or already gone"), admit: false);

    async Task<T> Unary<T>(string method, ServerCallContext context, Func<string, Task<T>> body, bool admit = true)
    {
        T result = default!;
        await Run(method, context, async id => result = await body(id).ConfigureAwait(false), admit).ConfigureAwait(false);
        return result;
    }

    static string NewRequestId() => "r-" + Guid.NewGuid().ToString("N")[..12];

    /// <summary>Admission, logging scope, metrics and error mapping around one call: clients see precise statuses and
    /// never a stack trace.</summary>
    async Task Run(string method, ServerCallContext context, Func<string, Task> body, bool admit = true)
    {
        string requestId = NewRequestId();
        context.ResponseTrailers.Add("x-request-id", requestId);
        using var scope = log.BeginScope("{Method} {RequestId}", method, requestId);
        var sw = Stopwatch.StartNew();
        StatusCode code = StatusCode.OK;
        try
        {
            if (shutdown.IsShuttingDown) throw RpcErrors.Unavailable("the server is shutting down");
            using var ticket = admit ? admission.TryEnter() : null;
            if (admit && ticket == null)
                throw RpcErrors.ResourceExhausted($"the server's queue is full ({admission.Capacity} requests in flight); retry later");
            metrics.ActiveRequests.Add(1);
            try { await body(requestId).ConfigureAwait(false); }
            finally { metrics.ActiveRequests.Add(-1); }
            // A stream whose client left or whose deadline passed ends quietly; count it by what happened to the call.
            if (context.CancellationToken.IsCancellationRequested) code = CancelledCode(context);
        }
        catch (Exception e) when (e is not RpcException && context.CancellationToken.IsCancellationRequested)
        {
            // The client left or the deadline passed: whatever failed after that (a write to the finished call, a
            // cancelled wait) is the cancellation itself, not a server error.
            code = CancelledCode(context);
            log.LogInformation("{Method} ended by {Code}: {Error}", method, code, e.Message);
            throw new RpcException(new Status(code, code == StatusCode.DeadlineExceeded ? "the deadline passed before the call completed" : "the call was cancelled"));
        }
        catch (Exception e)
        {
            var rpc = ToRpcException(e, requestId);
            code = rpc.StatusCode;
            if (code == StatusCode.Internal) log.LogError(e, "{Method} failed", method);
            else log.LogInformation("{Method} → {Code}: {Message}", method, code, rpc.Status.Detail);
            throw rpc;
        }
        finally
        {
            metrics.Requests.Add(1, new("method", method), new("status", code.ToString()));
            log.LogInformation("{Method} {Code} in {Ms:F1} ms", method, code, sw.Elapsed.TotalMilliseconds);
        }
    }

    // The client's deadline timer usually fires first and resets the stream, while the server's copy of the deadline
    // (receipt time + grpc-timeout) is still a transit time away: a cancel that close to the deadline is the deadline.
    static readonly TimeSpan DeadlineSlack = TimeSpan.FromMilliseconds(500);

    static StatusCode CancelledCode(ServerCallContext context) =>
        context.Deadline != DateTime.MaxValue && context.Deadline - DateTime.UtcNow <= DeadlineSlack
            ? StatusCode.DeadlineExceeded : StatusCode.Cancelled;

    RpcException ToRpcException(Exception e, string requestId) => e switch
    {
        RpcException r => r,
        OperationCanceledException => new RpcException(new Status(StatusCode.Cancelled, "the call was cancelled")),
        RegionChat.Inference.ModelManifestException m => new RpcException(new Status(StatusCode.FailedPrecondition, m.Message)),
        _ => RpcErrors.Internal(requestId),
    };
}
