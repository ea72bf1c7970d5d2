namespace RegionChat.Training.Clip;

/// <summary>How a region is shown to Alpha-CLIP: the paper's Table 2 columns.</summary>
public enum RegionAlphaMode
{
    /// <summary>All-ones alpha (+1.9231 everywhere): the whole image, which is plain CLIP when conv1_alpha is zero.</summary>
    Whole,

    /// <summary>The object's bounding box as the foreground.</summary>
    Box,

    /// <summary>The object's visible mask as the foreground.</summary>
    Mask,
}
