namespace RegionChat.Vision.Imaging;

/// <summary>How a non-square image becomes R×R.</summary>
public enum SquareMode
{
    /// <summary>LLaVA-1.5 ("image_aspect_ratio = pad"): centre the image on a square of the mean colour, then resize. Keeps everything.</summary>
    Pad,
    /// <summary>CLIP: resize the short side to R, then cut the centre R×R. Loses the ends of the long side.</summary>
    Crop,
}

/// <summary>Settings of <see cref="ClipPreprocessor"/>; the defaults are LLaVA-1.5's at 336 px with OpenAI CLIP statistics.</summary>
public sealed record PreprocessOptions
{
    public const int MaxResolution = 4096;

    /// <summary>OpenAI CLIP's RGB mean (read-only: shared by every default options instance).</summary>
    public static IReadOnlyList<float> ClipMean { get; } = Array.AsReadOnly([0.48145466f, 0.4578275f, 0.40821073f]);

    /// <summary>OpenAI CLIP's RGB standard deviation.</summary>
    public static IReadOnlyList<float> ClipStd { get; } = Array.AsReadOnly([0.26862954f, 0.26130258f, 0.27577711f]);

    /// <summary>Output side R (pixel_values are [3,R,R]).</summary>
    public int Resolution
    {
        get;
        init => field = value is >= 1 and <= MaxResolution ? value
            : throw new ArgumentOutOfRangeException(nameof(Resolution), value, $"resolution must be between 1 and {MaxResolution}");
    } = 336;

    public SquareMode Mode { get; init; } = SquareMode.Pad;

    /// <summary>Per-channel mean (RGB, in 0..1) subtracted after /255.</summary>
    public IReadOnlyList<float> Mean { get; init => field = Check(value, nameof(Mean), positive: false); } = ClipMean;

    /// <summary>Per-channel standard deviation (RGB) divided by after the mean.</summary>
    public IReadOnlyList<float> Std { get; init => field = Check(value, nameof(Std), positive: true); } = ClipStd;

    /// <summary>
    /// Colour of the padding in pad mode. Null = LLaVA's <c>tuple(int(x*255) for x in image_mean)</c>, which is (122,116,104)
    /// for the CLIP mean.
    /// </summary>
    public (byte R, byte G, byte B)? PadColor { get; init; }

    internal (byte R, byte G, byte B) EffectivePadColor =>
        PadColor ?? ((byte)(int)(Mean[0] * 255), (byte)(int)(Mean[1] * 255), (byte)(int)(Mean[2] * 255));

    static IReadOnlyList<float> Check(IReadOnlyList<float> v, string name, bool positive)
    {
        if (v.Count != 3) throw new ArgumentException($"{name} needs 3 values (R,G,B), got {v.Count}", name);
        foreach (float x in v)
            if (!float.IsFinite(x) || (positive && x <= 0) || (!positive && x is < 0 or > 1))
                throw new ArgumentOutOfRangeException(name, x, positive ? $"{name} values must be positive" : $"{name} values must be in [0,1]");
        return Array.AsReadOnly(v.ToArray());
    }
}
