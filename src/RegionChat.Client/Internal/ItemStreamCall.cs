using Grpc.Core;

namespace RegionChat.Client.Internal;

/// <summary>
/// The call under a stream of items (<see cref="CaptionStream"/>, <see cref="ClassifyStream"/>, <see cref="EmbedStream"/>): one write at a time, and
/// every failure read as the status the server ended the call with (a write on an ended call, a read, the completion).
/// </summary>
internal sealed class ItemStreamCall<TRequest, TResponse>(string method, Uri address, AsyncDuplexStreamingCall<TRequest, TResponse> call,
    CancellationToken callToken) : IDisposable
{
    /// <summary>grpc-dotnet takes one write at a time.</summary>
    readonly SemaphoreSlim writes = new(1, 1);

    public async Task WriteAsync(TRequest message, CancellationToken cancellationToken)
    {
        await writes.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await call.RequestStream.WriteAsync(message, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (ClientStreamingCallExtensions.IsCallEnded(e) && !cancellationToken.IsCancellationRequested
                                  && !callToken.IsCancellationRequested)
        {
            // The call has ended (grpc-dotnet refuses the write, or fails it with a bare CANCELLED): say why it ended.
            throw await EndedAsync(e).ConfigureAwait(false);
        }
        catch (RpcException e)
        {
            // The call has ended and grpc-dotnet knows its status.
            throw RpcErrors.Map(method, e, cancellationToken, address);
        }
        finally
        {
            writes.Release();
        }
    }

    public async Task CompleteAsync()
    {
        await writes.WaitAsync(callToken).ConfigureAwait(false);
        try
        {
            await call.RequestStream.CompleteAsync().ConfigureAwait(false);
        }
        catch (InvalidOperationException e)
        {
            throw await EndedAsync(e).ConfigureAwait(false);
        }
        catch (RpcException e)
        {
            throw RpcErrors.Map(method, e, callToken, address);
        }
        finally
        {
            writes.Release();
        }
    }

    /// <summary>"caption stream" for CaptionStream.</summary>
    string Noun => method.Replace("Stream", " stream", StringComparison.Ordinal).ToLowerInvariant();

    /// <summary>The next response, or default when the server has ended the stream.</summary>
    public async Task<TResponse?> ReadAsync(CancellationToken cancellationToken)
    {
        try { return await call.ResponseStream.MoveNext(cancellationToken).ConfigureAwait(false) ? call.ResponseStream.Current : default; }
        catch (RpcException e) { throw RpcErrors.Map(method, e, cancellationToken, address); }
    }

    /// <summary>The failure of a write on an ended call: the server's status when it has one, else the write's own.</summary>
    async Task<Exception> EndedAsync(Exception write)
    {
        try
        {
            // Throws the call's status when it ended without (or after) its headers.
            await call.ResponseHeadersAsync.ConfigureAwait(false);
            var status = call.GetStatus();
            if (status.StatusCode != StatusCode.OK)
                return RpcErrors.Map(method, new RpcException(status, call.GetTrailers()), callToken, address);
        }
        catch (RpcException e) { return RpcErrors.Map(method, e, callToken, address); }
        catch (InvalidOperationException) { /* still running: the status is not known yet */ }
        return new IOException($"the {Noun} closed: " + write.Message, write);
    }

    /// <summary>The per-item error of a result's status (forgetting a stored image the server reports gone).</summary>
    public static CaptionItemError ItemError(RegionChatClient client, Google.Rpc.Status status, string? imageId)
    {
        var code = (StatusCode)status.Code;
        if (RpcErrors.IsImageGone(code, status.Message, imageId)) client.ForgetImage(imageId!);
        return new CaptionItemError(code, status.Message, RpcErrors.Violations(status));
    }

    public void Dispose() => call.Dispose();
}
