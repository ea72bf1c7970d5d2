using Grpc.Core;
using RegionChat.Client.Internal;
using PbV1 = RegionChat.Protos.V1;

namespace RegionChat.Client;

/// <summary>
/// One EmbedStream call: many embedding items (regions of an image, texts) over one stream, with several in flight. Send
/// items with <see cref="SendAsync(string, PbV1.EmbedRequest, CancellationToken)"/> while
/// reading results with <see cref="ReadAllAsync"/>; results come in the order items finish, each with its item's id,
/// and an item the server refuses comes back as a <see cref="EmbedStreamResult.Error"/> while the others go on. Call
/// <see cref="CompleteAsync"/> after the last item; disposing the stream cancels it. Open one with
/// <see cref="RegionChatClient.OpenEmbedStream"/>.
/// <para>A stream that fails as a whole (the server went away, a wrong API key) throws <see cref="RegionChatException"/>
/// from the read; the items still in flight then have no result. Cancelling a token given to a send or to the read
/// cancels the whole call, as the one given when it was opened does (gRPC cannot take back a message half sent).</para>
/// </summary>
public sealed class EmbedStream : IAsyncDisposable, IDisposable
{
    readonly ItemStream<PbV1.EmbedRequest, PbV1.EmbedStreamRequest, PbV1.EmbedStreamResponse, EmbedStreamResult> items;

    internal EmbedStream(RegionChatClient client, AsyncDuplexStreamingCall<PbV1.EmbedStreamRequest, PbV1.EmbedStreamResponse> call,
        CancellationToken cancellationToken) =>
        items = new(client, call, new("EmbedStream", "an embedding",
            (id, request) => new PbV1.EmbedStreamRequest { Id = id, Request = request },
            request => request.Image,
            response => response.Id,
            response => response.ResultCase == PbV1.EmbedStreamResponse.ResultOneofCase.Error ? response.Error : null,
            response => response.ResultCase == PbV1.EmbedStreamResponse.ResultOneofCase.Embedding
                ? new EmbedStreamResult(response.Id, response.Embedding, null) : null,
            (id, error) => new EmbedStreamResult(id, null, error)), cancellationToken);

    /// <summary>Sends one item. <paramref name="id"/> must be unique among the items in flight; its result carries it.
    /// When the stream has already ended, throws the status the server ended it with.</summary>
    public Task SendAsync(string id, PbV1.EmbedRequest request, CancellationToken cancellationToken = default) =>
        items.SendAsync(id, request, cancellationToken);

    /// <summary>Sends one item: regions of an image (stored or inline; none = the whole image) and texts, as
    /// <see cref="RegionChatClient.EmbedAsync(ChatImage?, IReadOnlyList{ImageRegion}?, IReadOnlyList{string}?, string?, CancellationToken)"/>
    /// takes them.</summary>
    public Task SendAsync(string id, ChatImage? image, IReadOnlyList<ImageRegion>? regions = null, IReadOnlyList<string>? texts = null,
        string? model = null, CancellationToken cancellationToken = default) =>
        SendAsync(id, RegionChatClient.EmbedRequest(image, regions, texts, model), cancellationToken);

    /// <summary>Tells the server no more items follow; the results of the items in flight still arrive.</summary>
    public Task CompleteAsync() => items.CompleteAsync();

    /// <summary>The results, in the order items finish, until the server ends the stream (after
    /// <see cref="CompleteAsync"/> and the last result). An item whose stored image the server has dropped fails with
    /// NotFound; the client then forgets that image, so storing it again uploads it.</summary>
    public IAsyncEnumerable<EmbedStreamResult> ReadAllAsync(CancellationToken cancellationToken = default) => items.ReadAllAsync(cancellationToken);

    /// <summary>Cancels the call if it is still running.</summary>
    public void Dispose() => items.Dispose();

    /// <inheritdoc cref="Dispose"/>
    public ValueTask DisposeAsync()
    {
        Dispose();
        return ValueTask.CompletedTask;
    }
}
