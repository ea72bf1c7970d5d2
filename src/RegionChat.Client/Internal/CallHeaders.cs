using Grpc.Core;
using Grpc.Core.Interceptors;

namespace RegionChat.Client.Internal;

/// <summary>
/// Adds the client's headers to every call, the raw ones through <see cref="RegionChatClient.Grpc"/> included: the API
/// key, and the routing key on every call but a chat turn. A turn's session header names its session (a first turn's
/// becomes the new session's id), so the routing key there would give every first turn the same id, and contradict a
/// continued turn's session_id. The caller's Metadata is copied, never changed: it may be reused for other calls.
/// </summary>
internal sealed class CallHeaders(string? authorization, Func<string?> routingKey) : Interceptor
{
    const string ChatMethod = "/regionchat.v1.RegionChat/Chat";

    ClientInterceptorContext<TRequest, TResponse> With<TRequest, TResponse>(ClientInterceptorContext<TRequest, TResponse> context)
        where TRequest : class where TResponse : class
    {
        var metadata = new Metadata();
        if (context.Options.Headers is { } callerHeaders)
            foreach (var entry in callerHeaders) metadata.Add(entry);
        if (authorization != null) metadata.Add("authorization", authorization);
        if (context.Method.FullName != ChatMethod && routingKey() is { } key && metadata.Get(RegionChatClient.SessionHeader) == null)
            metadata.Add(RegionChatClient.SessionHeader, key);
        return new(context.Method, context.Host, context.Options.WithHeaders(metadata));
    }

    public override TResponse BlockingUnaryCall<TRequest, TResponse>(TRequest request, ClientInterceptorContext<TRequest, TResponse> context,
        BlockingUnaryCallContinuation<TRequest, TResponse> continuation) => continuation(request, With(context));

    public override AsyncUnaryCall<TResponse> AsyncUnaryCall<TRequest, TResponse>(TRequest request, ClientInterceptorContext<TRequest, TResponse> context,
        AsyncUnaryCallContinuation<TRequest, TResponse> continuation) => continuation(request, With(context));

    public override AsyncServerStreamingCall<TResponse> AsyncServerStreamingCall<TRequest, TResponse>(TRequest request,
        ClientInterceptorContext<TRequest, TResponse> context, AsyncServerStreamingCallContinuation<TRequest, TResponse> continuation) =>
        continuation(request, With(context));

    public override AsyncClientStreamingCall<TRequest, TResponse> AsyncClientStreamingCall<TRequest, TResponse>(
        ClientInterceptorContext<TRequest, TResponse> context, AsyncClientStreamingCallContinuation<TRequest, TResponse> continuation) =>
        continuation(With(context));

    public override AsyncDuplexStreamingCall<TRequest, TResponse> AsyncDuplexStreamingCall<TRequest, TResponse>(
        ClientInterceptorContext<TRequest, TResponse> context, AsyncDuplexStreamingCallContinuation<TRequest, TResponse> continuation) =>
        continuation(With(context));
}
