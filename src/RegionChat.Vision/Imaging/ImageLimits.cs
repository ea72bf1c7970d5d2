namespace RegionChat.Vision.Imaging;

/// <summary>
/// Caps applied before an image is decoded, so a small upload cannot make the process allocate gigabytes
/// (a 30000×30000 PNG header compresses to a few hundred bytes).
/// </summary>
public sealed record ImageLimits
{
    public const long DefaultMaxPixels = 40_000_000;
    public const long DefaultMaxBytes = 20L * 1024 * 1024;
    public const int DefaultMaxSide = 32768;

    public static ImageLimits Default { get; } = new();

    /// <summary>Largest width×height accepted, checked on the header before decoding.</summary>
    public long MaxPixels
    {
        get;
        init => field = value > 0 ? value : throw new ArgumentOutOfRangeException(nameof(MaxPixels), value, "must be positive");
    } = DefaultMaxPixels;

    /// <summary>Largest encoded size accepted.</summary>
    public long MaxBytes
    {
        get;
        init => field = value > 0 ? value : throw new ArgumentOutOfRangeException(nameof(MaxBytes), value, "must be positive");
    } = DefaultMaxBytes;

    /// <summary>
    /// Longest width or height accepted. Bounds the work of padding to a square: a 1×40,000,000 image is within the pixel
    /// limit but pads to 40,000,000² virtual pixels.
    /// </summary>
    public int MaxSide
    {
        get;
        init => field = value > 0 ? value : throw new ArgumentOutOfRangeException(nameof(MaxSide), value, "must be positive");
    } = DefaultMaxSide;
}
