namespace RegionChat.Vision.Imaging;

/// <summary>Why an image was rejected; stable names that an API can return to clients.</summary>
public enum InvalidImageReason
{
    /// <summary>The encoded file is larger than <see cref="ImageLimits.MaxBytes"/>.</summary>
    TooManyBytes,
    /// <summary>The header declares more than <see cref="ImageLimits.MaxPixels"/> pixels or a side over <see cref="ImageLimits.MaxSide"/>.</summary>
    TooManyPixels,
    /// <summary>The data is empty or not in any image format known here.</summary>
    NotAnImage,
    /// <summary>An image format that is recognised but not accepted (e.g. TIFF, animated WebP).</summary>
    Unsupported,
    /// <summary>The file ends before the image data does.</summary>
    Truncated,
    /// <summary>The image data is damaged or inconsistent.</summary>
    Corrupt,
    /// <summary>The file could not be read (missing, no permission).</summary>
    Unreadable,
}

/// <summary>The one exception image decoding throws for bad input; <see cref="Reason"/> is machine-readable.</summary>
public sealed class InvalidImageException : Exception
{
    public InvalidImageException(InvalidImageReason reason, string message, Exception? inner = null)
        : base(message, inner) => Reason = reason;

    public InvalidImageReason Reason { get; }
}
