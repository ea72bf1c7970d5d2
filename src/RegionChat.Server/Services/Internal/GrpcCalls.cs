using System.Diagnostics;
using Grpc.Core;
using RegionChat.Inference;
using RegionChat.Server.Internal;

namespace RegionChat.Server.Services.Internal;

/// <summary>
/// What every gRPC call, and every CaptionStream item, goes through: a request id (the caller's x-request-id or a new
/// one; logging scope, x-request-id trailer), the core's admission (shutdown refusal, queue), the request metrics by method and status, and the mapping
/// of failures to precise statuses — clients never see a stack trace.
/// </summary>
internal sealed class GrpcCalls(RegionChatCore core, ILogger<GrpcCalls> log)
{
    public async Task RunAsync(string method, ServerCallContext context, Func<string, Task> body, bool admit = true)
    {
        string requestId = RequestIds.From(context.RequestHeaders.GetValue(RequestIds.Header));
        context.ResponseTrailers.Add(RequestIds.Header, requestId);
        // The session header a load balancer routes by is echoed on every response (Chat adds a new session's own).
        if (context.RequestHeaders.GetValue(SessionIds.Header) is { Length: > 0 } session)
            context.GetHttpContext().Response.Headers[SessionIds.Header] = session;
        using var scope = log.BeginScope(RequestIds.ScopeFormat, method, requestId);
        var sw = Stopwatch.StartNew();
        StatusCode code = StatusCode.OK;
        try
        {
            using (core.EnterCall(admit)) await body(requestId).ConfigureAwait(false);
            // A stream whose client left or whose deadline passed ends quietly; count it by what happened to the call.
            if (context.CancellationToken.IsCancellationRequested) code = CancelledCode(context);
        }
        catch (Exception e) when (e is not (RpcException or RegionChatCoreException)
            && (context.CancellationToken.IsCancellationRequested || NearDeadline(context)))
        {
            // The client left or the deadline passed: whatever failed after that (a write to the finished call, a
            // cancelled wait) is the cancellation itself, not a server error. At the deadline the failure can come
            // before grpc-dotnet has cancelled the call's token, so the deadline is checked too.
            code = CancelledCode(context);
            ServerLog.GrpcCallCancelled(log, method, code, e.Message);
            throw new RpcException(new Status(code,
                code == StatusCode.DeadlineExceeded ? "the deadline passed before the call completed" : "the call was cancelled"));
        }
        catch (Exception e)
        {
            var rpc = ToRpcException(e, requestId);
            code = rpc.StatusCode;
            if (code == StatusCode.Internal) ServerLog.GrpcCallFailed(log, e, method);
            else ServerLog.GrpcCallRefused(log, method, code, rpc.Status.Detail);
            throw rpc;
        }
        finally
        {
            core.Metrics.RequestFinished(method, code.ToString());
            ServerLog.GrpcCallFinished(log, method, code, sw.Elapsed.TotalMilliseconds);
        }
    }

    public async Task<T> RunAsync<T>(string method, ServerCallContext context, Func<string, Task<T>> body, bool admit = true)
    {
        T result = default!;
        await RunAsync(method, context, async id => { result = await body(id).ConfigureAwait(false); }, admit).ConfigureAwait(false);
        return result;
    }

    /// <summary>One item of a streaming call, admitted and counted like a call of its own (method
    /// <paramref name="method"/>); its failure is returned as the status for its result instead of ending the call.</summary>
    public async Task<Google.Rpc.Status?> RunItemAsync(string method, string itemId, Func<string, Task> body, CancellationToken ct)
    {
        string requestId = RegionChatCore.NewRequestId();
        try
        {
            using (core.EnterCall()) await body(requestId).ConfigureAwait(false);
            core.Metrics.RequestFinished(method, nameof(StatusCode.OK));
            return null;
        }
        catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
        {
            var rpc = ToRpcException(e, requestId);
            if (rpc.StatusCode == StatusCode.Internal) ServerLog.GrpcItemFailed(log, e, method, ClientText.Quote(itemId));
            core.Metrics.RequestFinished(method, rpc.StatusCode.ToString());
            return rpc.GetRpcStatus() ?? new Google.Rpc.Status { Code = (int)rpc.StatusCode, Message = rpc.Status.Detail };
        }
    }

    // The client's deadline timer usually fires first and resets the stream, while the server's copy of the deadline
    // (receipt time + grpc-timeout) is still a transit time away: a cancel that close to the deadline is the deadline.
    static readonly TimeSpan DeadlineSlack = TimeSpan.FromMilliseconds(500);

    static bool NearDeadline(ServerCallContext context) =>
        context.Deadline != DateTime.MaxValue && context.Deadline - DateTime.UtcNow <= DeadlineSlack;

    static StatusCode CancelledCode(ServerCallContext context) => NearDeadline(context) ? StatusCode.DeadlineExceeded : StatusCode.Cancelled;

    static RpcException ToRpcException(Exception e, string requestId) => e switch
    {
        RpcException r => r,
        RegionChatCoreException c => RpcErrors.From(c),
        OperationCanceledException => new RpcException(new Status(StatusCode.Cancelled, "the call was cancelled")),
        ModelManifestException m => new RpcException(new Status(StatusCode.FailedPrecondition, m.Message)),
        _ => RpcErrors.Internal(requestId),
    };
}
