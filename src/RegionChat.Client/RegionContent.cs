using Microsoft.Extensions.AI;

namespace RegionChat.Client;

/// <summary>
/// The region of the turn's image a question is about, as an item of a <see cref="ChatMessage"/>'s contents. Put it next
/// to the image (<see cref="DataContent"/> with an image/* media type):
/// <code>new ChatMessage(ChatRole.User, [new DataContent(png, "image/png"), new RegionContent(ImageRegion.Box(10, 10, 40, 40)), new TextContent("what is
/// this?")])</code>
/// A turn carries one region (use <see cref="ImageRegion.Union"/> for several areas). A region without an image in the
/// turn refers to the conversation's most recent image.
/// </summary>
public sealed class RegionContent(ImageRegion region) : AIContent
{
    /// <summary>The region.</summary>
    public ImageRegion Region { get; } = region ?? throw new ArgumentNullException(nameof(region));

    /// <inheritdoc/>
    public override string ToString() => Region.ToString();
}
