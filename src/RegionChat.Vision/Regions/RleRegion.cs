using RegionChat.Data.Regions;

namespace RegionChat.Vision.Regions;

/// <summary>A COCO RLE mask; its size [height, width] must equal the image's.</summary>
public sealed class RleRegion(CocoRle rle) : Region
{
    public CocoRle Rle { get; } = rle;

    public override string Kind => "rle";

    protected override string EmptyDescription(int width, int height) => "the RLE mask has no pixel set";

    protected override RegionMask RasterizeCore(int width, int height, CancellationToken ct)
    {
        if (Rle.Width != width || Rle.Height != height)
            throw Error(InvalidRegionReason.SizeMismatch,
                $"RLE size [{Rle.Height}, {Rle.Width}] ([height, width]) does not match the {width}×{height} image (needs [{height}, {width}])");
        return Rle.Decode();
    }
}
