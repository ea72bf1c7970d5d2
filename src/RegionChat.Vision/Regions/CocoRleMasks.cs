using RegionChat.Data.Regions;

namespace RegionChat.Vision.Regions;

/// <summary>COCO RLE (RegionChat.Data's codec) to and from the <see cref="RegionMask"/> that regions draw into.</summary>
public static class CocoRleMasks
{
    extension(CocoRle)
    {
        /// <summary>Encodes a mask (nonzero = inside).</summary>
        public static CocoRle Encode(RegionMask mask) => CocoRle.Encode(mask.Data, mask.Height, mask.Width);
    }

    extension(CocoRle rle)
    {
        /// <summary>The mask, <see cref="RegionMask.Inside"/> where the runs of ones are.</summary>
        public RegionMask Decode() => new(rle.Width, rle.Height, rle.Decode(RegionMask.Inside));
    }
}
