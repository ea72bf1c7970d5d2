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
}
