namespace RegionChat.Vision.Regions;

/// <summary>The whole image. <see cref="Imaging.ClipPreprocessor"/> treats it as "no region": alpha +1.9231 everywhere, padding included.</summary>
public sealed class WholeImageRegion : Region
{
    public static WholeImageRegion Instance { get; } = new();

    public override string Kind => "whole";

    protected override RegionMask RasterizeCore(int width, int height, CancellationToken ct)
    {
        var mask = new RegionMask(width, height);
        Array.Fill(mask.Data, RegionMask.Inside);
        return mask;
    }
}
