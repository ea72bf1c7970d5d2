using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using Grpc.Core;
using PbV1 = RegionChat.Protos.V1;

namespace RegionChat.Client.Internal;

/// <summary>How one stream RPC's messages look: how an item is wrapped, where its image is, and how a response reads.</summary>
internal sealed record ItemStreamShape<TRequest, TIn, TOut, TResult>(
    string Method,
    string ValueNoun,
    Func<string, TRequest, TIn> Wrap,
    Func<TRequest, PbV1.ImageInput?> ImageOf,
    Func<TOut, string> IdOf,
    Func<TOut, Google.Rpc.Status?> ErrorOf,
    Func<TOut, TResult?> Answered,
    Func<string, CaptionItemError, TResult> Failed) where TResult : class;

/// <summary>
/// What <see cref="CaptionStream"/>, <see cref="ClassifyStream"/> and <see cref="EmbedStream"/> do alike: send items by id,
/// read results as they finish, and forget a stored image the server reports gone so storing it again uploads it.
/// </summary>
internal sealed class ItemStream<TRequest, TIn, TOut, TResult> : IDisposable where TRequest : class where TResult : class
{
    readonly ItemStreamShape<TRequest, TIn, TOut, TResult> shape;
    readonly ItemStreamCall<TIn, TOut> call;
    readonly RegionChatClient client;
    readonly CancellationToken callToken;
    /// <summary>Item id → the image id its request refers to.</summary>
    readonly ConcurrentDictionary<string, string> imageIds = new(StringComparer.Ordinal);

    public ItemStream(RegionChatClient client, AsyncDuplexStreamingCall<TIn, TOut> call, ItemStreamShape<TRequest, TIn, TOut, TResult> shape,
        CancellationToken callToken)
    {
        this.client = client;
        this.shape = shape;
        this.call = new(shape.Method, client.Address, call, callToken);
        this.callToken = callToken;
    }

    public Task SendAsync(string id, TRequest request, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(id);
        ArgumentNullException.ThrowIfNull(request);
        if (shape.ImageOf(request)?.ImageId is { Length: > 0 } imageId) imageIds[id] = imageId;
        return call.WriteAsync(shape.Wrap(id, request), cancellationToken);
    }

    public Task CompleteAsync() => call.CompleteAsync();

    public async IAsyncEnumerable<TResult> ReadAllAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, callToken);
        while (await call.ReadAsync(linked.Token).ConfigureAwait(false) is { } response)
        {
            string id = shape.IdOf(response);
            imageIds.TryRemove(id, out string? imageId);
            if (shape.ErrorOf(response) is { } status)
                yield return shape.Failed(id, ItemStreamCall<TIn, TOut>.ItemError(client, status, imageId));
            else
                yield return shape.Answered(response) ?? shape.Failed(id,
                    new CaptionItemError(StatusCode.Internal, $"the server sent a result with neither {shape.ValueNoun} nor an error", []));
        }
    }

    public void Dispose() => call.Dispose();
}
