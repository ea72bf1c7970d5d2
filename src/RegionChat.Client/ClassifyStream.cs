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
/// from the read; the items still in flight then have no result. Cancelling a token given to a send or to the read
/// cancels the whole call, as the one given when it was opened does (gRPC cannot take back a message half sent).</para>
/// </summary>
public sealed class ClassifyStream : IAsyncDisposable, IDisposable
{
    readonly ItemStream<PbV1.ClassifyRequest, PbV1.ClassifyStreamRequest, PbV1.ClassifyStreamResponse, ClassifyStreamResult> items;

    internal ClassifyStream(RegionChatClient client, AsyncDuplexStreamingCall<PbV1.ClassifyStreamRequest, PbV1.ClassifyStreamResponse> call,
        CancellationToken cancellationToken) =>
        items = new(client, call, new("ClassifyStream", "a classification",
            (id, request) => new PbV1.ClassifyStreamRequest { Id = id, Request = request },
            request => request.Image,
            response => response.Id,
            response => response.ResultCase == PbV1.ClassifyStreamResponse.ResultOneofCase.Error ? response.Error : null,
            response => response.ResultCase == PbV1.ClassifyStreamResponse.ResultOneofCase.Classification
                ? new ClassifyStreamResult(response.Id, response.Classification, null) : null,
            (id, error) => new ClassifyStreamResult(id, null, error)), cancellationToken);

    /// <summary>Sends one item. <paramref name="id"/> must be unique among the items in flight; its result carries it.
    /// When the stream has already ended, throws the status the server ended it with.</summary>
    public Task SendAsync(string id, PbV1.ClassifyRequest request, CancellationToken cancellationToken = default) =>
        items.SendAsync(id, request, cancellationToken);

    /// <summary>Sends one item: regions of an image (stored or inline) and labels, as
    /// <see cref="RegionChatClient.ClassifyAsync(ChatImage, IReadOnlyList{ImageRegion}, IReadOnlyList{string}, int, string?, CancellationToken)"/>
    /// takes them.</summary>
    public Task SendAsync(string id, ChatImage image, IReadOnlyList<ImageRegion> regions, IReadOnlyList<string> labels, int top = 0,
        string? model = null, CancellationToken cancellationToken = default) =>
        SendAsync(id, RegionChatClient.ClassifyRequest(image, regions, labels, top, model), cancellationToken);

    /// <summary>Tells the server no more items follow; the results of the items in flight still arrive.</summary>
    public Task CompleteAsync() => items.CompleteAsync();

    /// <summary>The results, in the order items finish, until the server ends the stream (after
    /// <see cref="CompleteAsync"/> and the last result). An item whose stored image the server has dropped fails with
    /// NotFound; the client then forgets that image, so storing it again uploads it.</summary>
    public IAsyncEnumerable<ClassifyStreamResult> ReadAllAsync(CancellationToken cancellationToken = default) => items.ReadAllAsync(cancellationToken);

    /// <summary>Cancels the call if it is still running.</summary>
    public void Dispose() => items.Dispose();

    /// <inheritdoc cref="Dispose"/>
    public ValueTask DisposeAsync()
    {
        Dispose();
        return ValueTask.CompletedTask;
    }
}
