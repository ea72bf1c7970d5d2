using Google.Protobuf;
using RegionChat.Vision.Regions;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats.Png;
using SixLabors.ImageSharp.PixelFormats;
using PbV1 = RegionChat.Protos.V1;

namespace RegionChat.CaptionBatch;

/// <summary>Maps a vision <see cref="Region"/> (what the CLI and batch jobs parse) to the proto <see cref="PbV1.Region"/> the server
/// takes. The server maps it back with the same vision types, so a region means the same pixels on both paths.</summary>
public static class ProtoRegionMapper
{
    public static PbV1.Region ToProto(Region region) => region switch
    {
        WholeImageRegion => new PbV1.Region { WholeImage = true },
        BoxRegion b => new PbV1.Region { Box = new PbV1.Box { X0 = (float)b.X0, Y0 = (float)b.Y0, X1 = (float)b.X1, Y1 = (float)b.Y1, Normalized = b.Normalized } },
        PolygonRegion p => new PbV1.Region
        {
            Polygon = new PbV1.Polygon
            {
                Points = { Flatten(p.Points) },
                FillRule = p.Fill == FillRule.NonZero ? PbV1.FillRule.NonZero : PbV1.FillRule.EvenOdd,
            },
        },
        ScribbleRegion s => new PbV1.Region { Scribble = new PbV1.Scribble { Points = { Flatten(s.Points) }, Width = (float)s.Width } },
        RleRegion r => new PbV1.Region
        {
            Rle = new PbV1.CocoRle
            {
                Size = { (uint)r.Rle.Height, (uint)r.Rle.Width },
                Uncompressed = new PbV1.CountList { Counts = { r.Rle.Counts.Select(CountToUInt) } },
            },
        },
        MaskRegion m => new PbV1.Region { MaskPng = ByteString.CopyFrom(EncodeMask(m)) },
        UnionRegion u => new PbV1.Region { Union = new PbV1.RegionUnion { Regions = { u.Parts.Select(ToProto) } } },
        _ => throw new ArgumentException($"region kind '{region.Kind}' has no proto form"),
    };

    static IEnumerable<float> Flatten(IReadOnlyList<RegionPoint> points) => points.SelectMany(p => new[] { (float)p.X, (float)p.Y });

    static uint CountToUInt(long count) =>
        count <= uint.MaxValue ? (uint)count : throw new ArgumentException($"an RLE run of {count} pixels does not fit the proto's uint32 counts");

    /// <summary>The mask's grey values as an 8-bit PNG: lossless, so the server thresholds exactly the same pixels.</summary>
    static byte[] EncodeMask(MaskRegion mask)
    {
        using var image = Image.LoadPixelData<L8>(mask.Grey, mask.Width, mask.Height);
        using var stream = new MemoryStream();
        image.Save(stream, new PngEncoder { ColorType = PngColorType.Grayscale, BitDepth = PngBitDepth.Bit8 });
        return stream.ToArray();
    }
}
