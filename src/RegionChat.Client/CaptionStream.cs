using Grpc.Core;
using RegionChat.Client.Internal;
using PbV1 = RegionChat.Protos.V1;

namespace RegionChat.Client;

/// <summary>
/// One CaptionStream call: many items captioned over one stream, with several in flight (the server batches their
/// vision and decoding). Send items with <see cref="SendAsync(string, PbV1.CaptionRequest, CancellationToken)"/> while
/// reading results with <see cref="ReadAllAsync"/>; results come in the order items finish, each with its item's id,
/// and an item the server refuses comes back as a <see cref="CaptionStreamResult.Error"/> while the others go on. Call
/// <see cref="CompleteAsync"/> after the last item; disposing the stream cancels it. Open one with
/// <see cref="RegionChatClient.OpenCaptionStream"/>.
/// <para>A stream that fails as a whole (the server went away, a wrong API key) throws <see cref="RegionChatException"/>
/// from the read; the items still in flight then have no result. Cancelling a token given to a send or to the read
/// cancels the whole call, as the one given when it was opened does (gRPC cannot take back a message half sent).</para>
/// </summary>
public sealed class CaptionStream : IAsyncDisposable, IDisposable
{
    readonly ItemStream<PbV1.CaptionRequest, PbV1.CaptionStreamRequest, PbV1.CaptionStreamResponse, CaptionStreamResult> items;

    internal CaptionStream(RegionChatClient client, AsyncDuplexStreamingCall<PbV1.CaptionStreamRequest, PbV1.CaptionStreamResponse> call,
        CancellationToken cancellationToken) =>
        items = new(client, call, new("CaptionStream", "a caption",
            (id, request) => new PbV1.CaptionStreamRequest { Id = id, Request = request },
            request => request.Image,
            response => response.Id,
            response => response.ResultCase == PbV1.CaptionStreamResponse.ResultOneofCase.Error ? response.Error : null,
            response => response.ResultCase == PbV1.CaptionStreamResponse.ResultOneofCase.Caption
                ? new CaptionStreamResult(response.Id, response.Caption, null) : null,
            (id, error) => new CaptionStreamResult(id, null, error)), cancellationToken);

    /// <summary>Sends one item. <paramref name="id"/> must be unique among the items in flight; its result carries it.
    /// When the stream has already ended, throws the status the server ended it with.</summary>
    public Task SendAsync(string id, PbV1.CaptionRequest request, CancellationToken cancellationToken = default) =>
        items.SendAsync(id, request, cancellationToken);

    /// <summary>Sends one item: a region of an image (stored or inline), as
    /// <see cref="RegionChatClient.CaptionAsync(ChatImage, ImageRegion?, string?, GenerationOptions?, string?, CancellationToken)"/>
    /// takes it.</summary>
    public Task SendAsync(string id, ChatImage image, ImageRegion? region = null, string? instruction = null,
        GenerationOptions? generation = null, string? model = null, CancellationToken cancellationToken = default) =>
        SendAsync(id, RegionChatClient.CaptionRequest(image, region, instruction, generation, model), cancellationToken);

    /// <summary>Tells the server no more items follow; the results of the items in flight still arrive.</summary>
    public Task CompleteAsync() => items.CompleteAsync();

    /// <summary>The results, in the order items finish, until the server ends the stream (after
    /// <see cref="CompleteAsync"/> and the last result). An item whose stored image the server has dropped fails with
    /// NotFound; the client then forgets that image, so storing it again uploads it.</summary>
    public IAsyncEnumerable<CaptionStreamResult> ReadAllAsync(CancellationToken cancellationToken = default) => items.ReadAllAsync(cancellationToken);

    /// <summary>Cancels the call if it is still running.</summary>
    public void Dispose() => items.Dispose();

    /// <inheritdoc cref="Dispose"/>
    public ValueTask DisposeAsync()
    {
        Dispose();
        return ValueTask.CompletedTask;
    }
}
