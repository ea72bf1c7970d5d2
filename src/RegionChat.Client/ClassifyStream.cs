using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using Grpc.Core;
using RegionChat.Client.Internal;
using PbV1 = RegionChat.Protos.V1;

namespace RegionChat.Client;

/// <summary>
/// One ClassifyStream call: many zero-shot classification items over one stream, with several in flight. Send items with
/// <see cref="SendAsync(string, PbV1.ClassifyRequest, CancellationToken)"/> while
/// reading results with <see cref="ReadAllAsync"/>; results come in the order items finish, each with its item's id,
/// and an item the server refuses comes back as a <see cref="ClassifyStreamResult.Error"/> while the others go on. Call
/// <see cref="CompleteAsync"/> after the last item; disposing the stream cancels it. Open one with
/// <see cref="RegionChatClient.OpenClassifyStream"/>.
/// <para>A stream that fails as a whole (the server went away, a wrong API key) throws <see cref="RegionChatException"/>
/// from the read; the items still in flight then have no result.</para>
/// </summary>
public sealed class ClassifyStream : IAsyncDisposable, IDisposable
{
    readonly ItemStreamCall<PbV1.ClassifyStreamRequest, PbV1.ClassifyStreamResponse> call;
    readonly RegionChatClient client;
    readonly CancellationToken cancellationToken;
    /// <summary>Item id → the image id its request refers to, to forget an image the server reports gone.</summary>
    readonly ConcurrentDictionary<string, string> imageIds = new(StringComparer.Ordinal);

    internal ClassifyStream(RegionChatClient client, AsyncDuplexStreamingCall<PbV1.ClassifyStreamRequest, PbV1.ClassifyStreamResponse> call,
        CancellationToken cancellationToken)
    {
        this.client = client;
        this.call = new("ClassifyStream", client.Address, call, cancellationToken);
        this.cancellationToken = cancellationToken;
    }

    /// <summary>Sends one item. <paramref name="id"/> must be unique among the items in flight; its result carries it.
    /// When the stream has already ended, throws the status the server ended it with.</summary>
    public Task SendAsync(string id, PbV1.ClassifyRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(id);
        ArgumentNullException.ThrowIfNull(request);
        if (request.Image?.ImageId is { Length: > 0 } imageId) imageIds[id] = imageId;
        return call.WriteAsync(new PbV1.ClassifyStreamRequest { Id = id, Request = request }, cancellationToken);
    }

    /// <summary>Sends one item: regions of an image (stored or inline) and labels, as
    /// <see cref="RegionChatClient.ClassifyAsync(ChatImage, IReadOnlyList{ImageRegion}, IReadOnlyList{string}, int, string?, CancellationToken)"/>
    /// takes them.</summary>
    public Task SendAsync(string id, ChatImage image, IReadOnlyList<ImageRegion> regions, IReadOnlyList<string> labels, int top = 0,
        string? model = null, CancellationToken cancellationToken = default) =>
        SendAsync(id, RegionChatClient.ClassifyRequest(image, regions, labels, top, model), cancellationToken);

    /// <summary>Tells the server no more items follow; the results of the items in flight still arrive.</summary>
    public Task CompleteAsync() => call.CompleteAsync();

    /// <summary>The results, in the order items finish, until the server ends the stream (after
    /// <see cref="CompleteAsync"/> and the last result). An item whose stored image the server has dropped fails with
    /// NotFound; the client then forgets that image, so storing it again uploads it.</summary>
    public async IAsyncEnumerable<ClassifyStreamResult> ReadAllAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, this.cancellationToken);
        while (await call.ReadAsync(linked.Token).ConfigureAwait(false) is { } response)
        {
            imageIds.TryRemove(response.Id, out string? imageId);
            yield return response.ResultCase switch
            {
                PbV1.ClassifyStreamResponse.ResultOneofCase.Error => new ClassifyStreamResult(response.Id, null,
                    ItemStreamCall<PbV1.ClassifyStreamRequest, PbV1.ClassifyStreamResponse>.ItemError(client, response.Error, imageId)),
                PbV1.ClassifyStreamResponse.ResultOneofCase.Classification => new ClassifyStreamResult(response.Id, response.Classification, null),
                _ => new ClassifyStreamResult(response.Id, null,
                    new CaptionItemError(StatusCode.Internal, "the server sent a result with neither a classification nor an error", [])),
            };
        }
    }

    /// <summary>Cancels the call if it is still running.</summary>
    public void Dispose() => call.Dispose();

    /// <inheritdoc cref="Dispose"/>
    public ValueTask DisposeAsync()
    {
        Dispose();
        return ValueTask.CompletedTask;
    }
}
