using System.Security.Cryptography;
using System.Text;
using Grpc.Core;
using Grpc.Core.Interceptors;
using Microsoft.Extensions.Options;

namespace RegionChat.Server.Internal;

/// <summary>Checks "authorization: Bearer KEY" against the configured keys, in constant time, when keys are set.</summary>
internal sealed class ApiKeyInterceptor(IOptions<ServerOptions> options) : Interceptor
{
    readonly byte[][] keys = options.Value.ApiKeys.Where(k => k.Length > 0).Select(k => SHA256.HashData(Encoding.UTF8.GetBytes(k))).ToArray();

    /// <summary>True when no keys are configured or the header carries one of them.</summary>
    public bool IsAuthorized(string? authorizationHeader)
    {
        if (keys.Length == 0) return true;
        if (authorizationHeader == null || !authorizationHeader.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase)) return false;
        // Hash first so the comparison is over equal lengths; compare with every key so timing does not tell which matched.
        byte[] given = SHA256.HashData(Encoding.UTF8.GetBytes(authorizationHeader["Bearer ".Length..].Trim()));
        bool ok = false;
        foreach (var k in keys) ok |= CryptographicOperations.FixedTimeEquals(k, given);
        return ok;
    }

    void Check(ServerCallContext context)
    {
        // Health checks stay open so load balancers and orchestrators can probe without a key.
        if (context.Method.StartsWith("/grpc.health.v1.", StringComparison.Ordinal)) return;
        if (!IsAuthorized(context.RequestHeaders.GetValue("authorization")))
            throw new RpcException(new Status(StatusCode.Unauthenticated,
                "missing or wrong API key: send the header \"authorization: Bearer <key>\""));
    }

    public override Task<TResponse> UnaryServerHandler<TRequest, TResponse>(TRequest request, ServerCallContext context,
        UnaryServerMethod<TRequest, TResponse> continuation)
    { Check(context); return continuation(request, context); }

    public override Task ServerStreamingServerHandler<TRequest, TResponse>(TRequest request, IServerStreamWriter<TResponse> responseStream,
        ServerCallContext context, ServerStreamingServerMethod<TRequest, TResponse> continuation)
    { Check(context); return continuation(request, responseStream, context); }

    public override Task<TResponse> ClientStreamingServerHandler<TRequest, TResponse>(IAsyncStreamReader<TRequest> requestStream, ServerCallContext context,
        ClientStreamingServerMethod<TRequest, TResponse> continuation)
    { Check(context); return continuation(requestStream, context); }

    public override Task DuplexStreamingServerHandler<TRequest, TResponse>(IAsyncStreamReader<TRequest> requestStream,
        IServerStreamWriter<TResponse> responseStream, ServerCallContext context, DuplexStreamingServerMethod<TRequest, TResponse> continuation)
    { Check(context); return continuation(requestStream, responseStream, context); }
}
