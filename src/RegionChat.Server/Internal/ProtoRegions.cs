using System.Security.Cryptography;
using Google.Protobuf;
using RegionChat.Vision.Imaging;
using RegionChat.Vision.Regions;
using PbV1 = RegionChat.Protos.V1;

namespace RegionChat.Server.Internal;

/// <summary>Maps the proto <see cref="PbV1.Region"/> to the vision side's regions; malformed input becomes an
/// <see cref="InvalidRegionException"/> whose field is relative to the Region message.</summary>
internal static class ProtoRegions
{
    public const int MaxUnionParts = 64, MaxPoints = 100_000, MaxDepth = 4;

    /// <summary>Null (whole image) when the region is unset.</summary>
    public static Region? ToRegion(PbV1.Region? region, ImageLimits limits) => region == null ? null : Convert(region, "", limits, 0);

    static Region Convert(PbV1.Region r, string path, ImageLimits limits, int depth)
    {
        string F(string name) => path.Length == 0 ? name : path + "." + name;
        switch (r.KindCase)
        {
            case PbV1.Region.KindOneofCase.None:
                throw new InvalidRegionException(path.Length == 0 ? "kind" : path, InvalidRegionReason.Malformed, "a region needs one of mask_png, box, polygon, scribble, rle, whole_image or union");
            case PbV1.Region.KindOneofCase.WholeImage:
                if (!r.WholeImage) throw new InvalidRegionException(F("whole_image"), InvalidRegionReason.Malformed, "whole_image must be true when set");
                return WholeImageRegion.Instance;
            case PbV1.Region.KindOneofCase.MaskPng:
                try { return MaskRegion.Decode(r.MaskPng.Memory, limits); }
                catch (InvalidImageException e) { throw new InvalidRegionException(F("mask_png"), InvalidRegionReason.Unreadable, e.Message, e); }
            case PbV1.Region.KindOneofCase.Box:
            {
                var b = r.Box;
                foreach (var (v, n) in new[] { (b.X0, "x0"), (b.Y0, "y0"), (b.X1, "x1"), (b.Y1, "y1") })
                    if (!float.IsFinite(v)) throw new InvalidRegionException(F("box." + n), InvalidRegionReason.Malformed, $"must be a finite number, got {v}");
                return new BoxRegion(b.X0, b.Y0, b.X1, b.Y1, b.Normalized);
            }
            case PbV1.Region.KindOneofCase.Polygon:
                return new PolygonRegion(Points(r.Polygon.Points, F("polygon.points")),
                    r.Polygon.FillRule == PbV1.FillRule.NonZero ? FillRule.NonZero : FillRule.EvenOdd);
            case PbV1.Region.KindOneofCase.Scribble:
                if (!float.IsFinite(r.Scribble.Width) || r.Scribble.Width <= 0)
                    throw new InvalidRegionException(F("scribble.width"), InvalidRegionReason.Malformed, $"must be a positive number of pixels, got {r.Scribble.Width}");
                return new ScribbleRegion(Points(r.Scribble.Points, F("scribble.points")), r.Scribble.Width);
            case PbV1.Region.KindOneofCase.Rle:
            {
                var rle = r.Rle;
                if (rle.Size.Count != 2) throw new InvalidRegionException(F("rle.size"), InvalidRegionReason.Malformed, $"needs [height, width], got {rle.Size.Count} values");
                int h = checked((int)Math.Min(rle.Size[0], int.MaxValue)), w = checked((int)Math.Min(rle.Size[1], int.MaxValue));
                return rle.CountsCase switch
                {
                    PbV1.CocoRle.CountsOneofCase.Compressed => new RleRegion(CocoRle.FromString(h, w, rle.Compressed, F("rle.compressed"))),
                    PbV1.CocoRle.CountsOneofCase.Uncompressed => new RleRegion(new CocoRle(h, w, rle.Uncompressed.Counts.Select(c => (long)c).ToArray(), F("rle.uncompressed"))),
                    _ => throw new InvalidRegionException(F("rle.counts"), InvalidRegionReason.Malformed, "needs compressed or uncompressed counts"),
                };
            }
            case PbV1.Region.KindOneofCase.Union:
                if (depth >= MaxDepth) throw new InvalidRegionException(F("union"), InvalidRegionReason.Malformed, $"unions nest at most {MaxDepth} deep");
                if (r.Union.Regions.Count == 0 || r.Union.Regions.Count > MaxUnionParts)
                    throw new InvalidRegionException(F("union.regions"), InvalidRegionReason.Malformed, $"needs 1 to {MaxUnionParts} regions, got {r.Union.Regions.Count}");
                return new UnionRegion(r.Union.Regions.Select((p, i) => Convert(p, F($"union.regions[{i}]"), limits, depth + 1)).ToArray());
            default:
                throw new InvalidRegionException(path, InvalidRegionReason.Malformed, $"unsupported region kind {r.KindCase}");
        }
    }

    static RegionPoint[] Points(IReadOnlyList<float> xy, string field)
    {
        if (xy.Count > 2 * MaxPoints) throw new InvalidRegionException(field, InvalidRegionReason.Malformed, $"at most {MaxPoints} points");
        foreach (var v in xy)
            if (!float.IsFinite(v)) throw new InvalidRegionException(field, InvalidRegionReason.Malformed, $"coordinates must be finite numbers, got {v}");
        return RegionPoint.FromFlat(xy.Select(v => (double)v).ToArray(), field);
    }

    /// <summary>A stable key of a region for the visual-token cache: SHA-256 of its deterministic proto encoding.</summary>
    public static string CacheKey(PbV1.Region? region)
    {
        if (region == null) return "whole";
        // Region has no map fields, so its binary encoding is deterministic.
        return System.Convert.ToHexString(SHA256.HashData(region.ToByteArray()));
    }
}
