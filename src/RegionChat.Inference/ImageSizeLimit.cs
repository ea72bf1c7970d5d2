using System.Globalization;

namespace RegionChat.Inference;

/// <summary>The one wording of an image over <see cref="RegionChatCoreOptions.MaxImageBytes"/>, whichever way it came
/// (inline, PutImage, UploadImage, an OpenAI data URL or file), naming the setting that raises the limit.</summary>
public static class ImageSizeLimit
{
    public const string Setting = "RegionChat:MaxImageBytes";

    /// <param name="atLeast">The size is a lower bound (an upload stopped once past the limit).</param>
    public static string TooLarge(long bytes, long limit, bool atLeast = false) => string.Create(CultureInfo.InvariantCulture,
        $"the image is {(atLeast ? "at least " : "")}{bytes:N0} bytes, over the limit of {limit:N0} bytes ({Setting})");
}
