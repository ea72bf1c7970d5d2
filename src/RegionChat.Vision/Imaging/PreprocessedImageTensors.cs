using TorchSharp;

namespace RegionChat.Vision.Imaging;

/// <summary>Conversion of <see cref="PreprocessedImage"/> to TorchSharp tensors for the vision encoder.</summary>
public static class PreprocessedImageTensors
{
    /// <summary>pixel_values as a float32 tensor [3,R,R], or [1,3,R,R] with <paramref name="batch"/>.</summary>
    public static torch.Tensor PixelValuesTensor(this PreprocessedImage p, bool batch = false) =>
        torch.tensor(p.PixelValues, batch ? [1, .. p.PixelValuesShape] : p.PixelValuesShape, torch.float32);

    /// <summary>alpha as a float32 tensor [1,R,R], or [1,1,R,R] with <paramref name="batch"/>.</summary>
    public static torch.Tensor AlphaTensor(this PreprocessedImage p, bool batch = false) =>
        torch.tensor(p.Alpha, batch ? [1, .. p.AlphaShape] : p.AlphaShape, torch.float32);

    /// <summary>A batch's pixel_values [B,3,R,R] and alpha [B,1,R,R], float32, on <paramref name="device"/> (null = CPU).
    /// Every input must have the same resolution.</summary>
    public static (torch.Tensor Pixels, torch.Tensor Alpha) BatchTensors(this IReadOnlyList<PreprocessedImage> inputs, torch.Device? device = null)
    {
        if (inputs.Count == 0) throw new ArgumentException("a batch needs an input", nameof(inputs));
        int r = inputs[0].Resolution;
        if (inputs.Any(p => p.Resolution != r)) throw new ArgumentException("the inputs' resolutions differ", nameof(inputs));
        return (torch.tensor(Concat(inputs, p => p.PixelValues), [inputs.Count, 3, r, r], torch.float32, device),
            torch.tensor(Concat(inputs, p => p.Alpha), [inputs.Count, 1, r, r], torch.float32, device));
    }

    // One block copy per input: a SelectMany over the floats enumerated them one by one.
    static float[] Concat(IReadOnlyList<PreprocessedImage> inputs, Func<PreprocessedImage, float[]> part)
    {
        var all = new float[inputs.Sum(p => (long)part(p).Length)];
        long at = 0;
        foreach (var p in inputs)
        {
            var values = part(p);
            Array.Copy(values, 0, all, at, values.Length);
            at += values.Length;
        }
        return all;
    }
}
