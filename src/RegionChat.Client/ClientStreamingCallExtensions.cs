using Grpc.Core;

namespace RegionChat.Client;

/// <summary>
/// Writes to a client-streaming call (<c>UploadImage</c>) so that a refusal reads as the server's status. A server may
/// end such a call before reading everything (a missing key, an image over the limit); grpc-dotnet then fails the write
/// in flight with a bare CANCELLED (or an OperationCanceledException), while the server's own status arrives with the
/// response.
/// </summary>
public static class ClientStreamingCallExtensions
{
    /// <summary>Writes one message; when the call has already ended, throws the status the server ended it with.</summary>
    public static async Task WriteAsync<TRequest, TResponse>(this AsyncClientStreamingCall<TRequest, TResponse> call, TRequest message,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(call);
        try
        {
            await call.RequestStream.WriteAsync(message, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (IsCallEnded(e) && !cancellationToken.IsCancellationRequested)
        {
            await call.ResponseAsync.ConfigureAwait(false);   // throws the server's status
            throw;                                            // the server answered OK after all: the write's own failure
        }
        catch (Exception e) when (IsTransportRace(e) && !cancellationToken.IsCancellationRequested)
        {
            // The HTTP/2 stream was reset under the write: the server's status follows at once, if the server ended it.
            var first = await Task.WhenAny(call.ResponseAsync, Task.Delay(TransportRaceWait, CancellationToken.None)).ConfigureAwait(false);
            if (first == call.ResponseAsync) await call.ResponseAsync.ConfigureAwait(false);
            throw;
        }
    }

    static readonly TimeSpan TransportRaceWait = TimeSpan.FromSeconds(5);

    /// <summary>How .NET's HTTP/2 client has failed a write whose stream the server reset meanwhile (seen once in CI: a
    /// NullReferenceException inside Http2Stream.SendDataAsync), besides the ways <see cref="IsCallEnded"/> knows.</summary>
    internal static bool IsTransportRace(Exception e) => e is NullReferenceException or IOException or System.Net.Http.HttpRequestException;

    /// <summary>How grpc-dotnet fails a write on a call that has ended: a bare CANCELLED (an OperationCanceledException
    /// with ThrowOperationCanceledOnCancellation), or a refusal once it knows the call is complete.</summary>
    internal static bool IsCallEnded(Exception e) =>
        e is RpcException { StatusCode: StatusCode.Cancelled } or OperationCanceledException or InvalidOperationException;
}
