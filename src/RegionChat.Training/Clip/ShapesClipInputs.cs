using RegionChat.Data.Shapes;
using static TorchSharp.torch;

namespace RegionChat.Training.Clip;

/// <summary>
/// Shapes scenes as Alpha-CLIP inputs. The 64×64 scene is already square at the model resolution, so the CLIP
/// preprocessing reduces to /255 and the CLIP mean/std; a mask m in {0,1} becomes alpha (m − 0.5)/0.26.
/// </summary>
public static class ShapesClipInputs
{
    public static IReadOnlyList<float> ImageMean { get; } = [0.48145466f, 0.4578275f, 0.40821073f];
    public static IReadOnlyList<float> ImageStd { get; } = [0.26862954f, 0.26130258f, 0.27577711f];

    /// <summary>Alpha of a foreground pixel, (1 − 0.5)/0.26.</summary>
    public const float Foreground = 0.5f / 0.26f;

    /// <summary>Alpha of a background pixel, (0 − 0.5)/0.26.</summary>
    public const float Background = -0.5f / 0.26f;

    const int Side = ShapesSpec.CanvasSize, Pixels = Side * Side;

    // byte → normalised value per channel: the batch builders do a table look-up per pixel.
    static readonly float[][] Normalised = Enumerable.Range(0, 3)
        .Select(c => Enumerable.Range(0, 256).Select(v => (v / 255f - ImageMean[c]) / ImageStd[c]).ToArray()).ToArray();

    /// <summary>Writes one scene's normalised image, channel-first [3, 64, 64], into <paramref name="target"/>.</summary>
    public static void WriteImage(ShapesScene scene, Span<float> target)
    {
        if (target.Length < 3 * Pixels) throw new ArgumentException($"target holds {target.Length} floats; an image needs {3 * Pixels}", nameof(target));
        var rgb = scene.Pixels;
        for (int c = 0; c < 3; c++)
        {
            var table = Normalised[c];
            var plane = target.Slice(c * Pixels, Pixels);
            for (int p = 0; p < Pixels; p++) plane[p] = table[rgb[3 * p + c]];
        }
    }

    /// <summary>Writes the alpha [1, 64, 64] of an object (or of the whole image when <paramref name="region"/> is null).</summary>
    public static void WriteAlpha(ShapesObject? region, RegionAlphaMode mode, Span<float> target)
    {
        if (target.Length < Pixels) throw new ArgumentException($"target holds {target.Length} floats; an alpha needs {Pixels}", nameof(target));
        var plane = target[..Pixels];
        if (region is null || mode == RegionAlphaMode.Whole)
        {
            plane.Fill(Foreground);
            return;
        }
        if (mode == RegionAlphaMode.Mask)
        {
            var mask = region.VisibleMask;
            for (int p = 0; p < Pixels; p++) plane[p] = mask[p] != 0 ? Foreground : Background;
            return;
        }
        plane.Fill(Background);
        var box = region.Box;
        for (int y = box.Y0; y < box.Y1; y++) plane.Slice(y * Side + box.X0, box.Width).Fill(Foreground);
    }

    /// <summary>Normalised images [N, 3, 64, 64] float32.</summary>
    public static Tensor Images(IReadOnlyList<ShapesScene> scenes)
    {
        var data = new float[scenes.Count * 3 * Pixels];
        for (int i = 0; i < scenes.Count; i++) WriteImage(scenes[i], data.AsSpan(i * 3 * Pixels, 3 * Pixels));
        return tensor(data, [scenes.Count, 3, Side, Side]);
    }

    /// <summary>Alphas [N, 1, 64, 64] float32; a null region means the whole image.</summary>
    public static Tensor Alphas(IReadOnlyList<ShapesObject?> regions, IReadOnlyList<RegionAlphaMode> modes)
    {
        if (regions.Count != modes.Count) throw new ArgumentException($"{regions.Count} regions but {modes.Count} modes");
        var data = new float[regions.Count * Pixels];
        for (int i = 0; i < regions.Count; i++) WriteAlpha(regions[i], modes[i], data.AsSpan(i * Pixels, Pixels));
        return tensor(data, [regions.Count, 1, Side, Side]);
    }

    /// <summary>All-ones (whole image) alphas [N, 1, 64, 64].</summary>
    public static Tensor WholeAlphas(int count) => full(count, 1, Side, Side, Foreground);
}
