using System.Security.Cryptography;
using Google.Protobuf;
using RegionChat.Data.Regions;
using RegionChat.Vision.Imaging;
using RegionChat.Vision.Regions;
using PbV1 = RegionChat.Protos.V1;

namespace RegionChat.Server.Services.Internal;

/// <summary>
/// Maps the proto <see cref="PbV1.Region"/> to the vision side's regions. Every error, whether found now or when the
/// region is rasterised against its image, is an <see cref="InvalidRegionException"/> whose field is the proto path
/// relative to the Region message ("box", "mask_png", "rle.size", "union.regions[1].polygon.points"; "" for the Region
/// itself), so clients get the name of the field they sent rather than the vision code's own names.
/// </summary>
internal static class ProtoRegions
{
    /// <summary>Null (whole image) when the region is unset. The region's cost is checked against
    /// <paramref name="budget"/> as it is built: point counts before points are copied, mask headers before pixels are
    /// decoded, union sizes before their parts.</summary>
    public static Region? ToRegion(PbV1.Region? region, ImageLimits limits, RegionBudget budget) =>
        region == null ? null : Convert(region, "", limits, budget.Start(), 1);

    static Region Convert(PbV1.Region r, string path, ImageLimits limits, RegionCost cost, int depth)
    {
        string F(string name) => path.Length == 0 ? name : path + "." + name;
        switch (r.KindCase)
        {
            case PbV1.Region.KindOneofCase.None:
                throw new InvalidRegionException(path, InvalidRegionReason.Malformed,
                    "a region needs one of mask_png, box, polygon, scribble, rle, whole_image or union");
            case PbV1.Region.KindOneofCase.WholeImage:
                if (!r.WholeImage) throw new InvalidRegionException(F("whole_image"), InvalidRegionReason.Malformed, "whole_image must be true when set");
                // Not wrapped: the preprocessor treats the whole image specially (alpha all inside, padding included).
                return WholeImageRegion.Instance;
            case PbV1.Region.KindOneofCase.MaskPng:
                return Fielded(() => MaskRegion.Decode(r.MaskPng.Memory, limits, cost), _ => F("mask_png"));
            case PbV1.Region.KindOneofCase.Box:
            {
                var b = r.Box;
                foreach (var (v, n) in new[] { (b.X0, "x0"), (b.Y0, "y0"), (b.X1, "x1"), (b.Y1, "y1") })
                    if (!float.IsFinite(v)) throw new InvalidRegionException(F("box." + n), InvalidRegionReason.Malformed, $"must be a finite number, got {v}");
                return Fielded(() => new BoxRegion(b.X0, b.Y0, b.X1, b.Y1, b.Normalized), _ => F("box"));
            }
            case PbV1.Region.KindOneofCase.Polygon:
            {
                string points = F("polygon.points");
                cost.Points(points, r.Polygon.Points.Count / 2);
                return Fielded(() => new PolygonRegion(Points(r.Polygon.Points, points),
                    r.Polygon.FillRule == PbV1.FillRule.NonZero ? FillRule.NonZero : FillRule.EvenOdd), _ => points);
            }
            case PbV1.Region.KindOneofCase.Scribble:
            {
                if (!float.IsFinite(r.Scribble.Width) || r.Scribble.Width <= 0)
                    throw new InvalidRegionException(F("scribble.width"), InvalidRegionReason.Malformed,
                        $"must be a positive number of pixels, got {r.Scribble.Width}");
                string points = F("scribble.points");
                cost.Points(points, r.Scribble.Points.Count / 2);
                cost.Scribble(points, r.Scribble.Points.Count / 2, r.Scribble.Width);
                return Fielded(() => new ScribbleRegion(Points(r.Scribble.Points, points), r.Scribble.Width), _ => points);
            }
            case PbV1.Region.KindOneofCase.Rle:
            {
                var rle = r.Rle;
                string size = F("rle.size");
                if (rle.Size.Count != 2) throw new InvalidRegionException(size, InvalidRegionReason.Malformed,
                    $"needs [height, width], got {rle.Size.Count} values");
                if (rle.Size[0] is 0 or > int.MaxValue || rle.Size[1] is 0 or > int.MaxValue)
                    throw new InvalidRegionException(size, InvalidRegionReason.Malformed, $"[{rle.Size[0]}, {rle.Size[1]}] must be a positive [height, width]");
                int h = (int)rle.Size[0], w = (int)rle.Size[1];
                // Size mismatches name the size; anything wrong with the runs names the counts field that was sent.
                string counts = rle.CountsCase switch
                {
                    PbV1.CocoRle.CountsOneofCase.Compressed => F("rle.compressed"),
                    PbV1.CocoRle.CountsOneofCase.Uncompressed => F("rle.uncompressed.counts"),
                    _ => throw new InvalidRegionException(F("rle"), InvalidRegionReason.Malformed, "needs compressed or uncompressed counts"),
                };
                Func<InvalidRegionReason, string> field = reason => reason == InvalidRegionReason.SizeMismatch ? size : counts;
                return Fielded(() => new RleRegion(rle.CountsCase == PbV1.CocoRle.CountsOneofCase.Compressed
                    ? CocoRle.FromString(h, w, rle.Compressed)
                    : new CocoRle(h, w, rle.Uncompressed.Counts.Select(c => (long)c).ToArray())), field);
            }
            case PbV1.Region.KindOneofCase.Union:
                cost.Union(F("union"), 0, depth);
                if (r.Union.Regions.Count == 0)
                    throw new InvalidRegionException(F("union.regions"), InvalidRegionReason.Malformed, "a union needs at least one region");
                cost.Union(F("union.regions"), r.Union.Regions.Count, depth);
                return new ProtoUnion(r.Union.Regions.Select((p, i) => Convert(p, F($"union.regions[{i}]"), limits, cost, depth + 1)).ToArray());
            default:
                throw new InvalidRegionException(path, InvalidRegionReason.Malformed, $"unsupported region kind {r.KindCase}");
        }
    }

    /// <summary>Builds a region and names its errors, now and at rasterisation, by the proto field.</summary>
    static FieldedRegion Fielded(Func<Region> create, Func<InvalidRegionReason, string> field)
    {
        try { return new FieldedRegion(create(), field); }
        catch (InvalidRegionException e) { throw new InvalidRegionException(field(e.Reason), e.Reason, e.Description, e); }
    }

    static RegionPoint[] Points(IReadOnlyList<float> xy, string field)
    {
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

    /// <summary>A vision region whose rasterisation errors carry the proto field name.</summary>
    sealed class FieldedRegion(Region inner, Func<InvalidRegionReason, string> field) : Region
    {
        public override string Kind => inner.Kind;

        protected override RegionMask RasterizeCore(int width, int height, CancellationToken ct)
        {
            try { return inner.Rasterize(width, height, ct); }
            catch (InvalidRegionException e) { throw new InvalidRegionException(field(e.Reason), e.Reason, e.Description, e); }
        }
    }

    /// <summary>The union of proto regions. Its parts already name their own fields, so unlike the vision side's
    /// UnionRegion it does not prefix their errors with "[k]".</summary>
    sealed class ProtoUnion(IReadOnlyList<Region> parts) : Region
    {
        public override string Kind => "union";

        protected override RegionMask RasterizeCore(int width, int height, CancellationToken ct)
        {
            var mask = new RegionMask(width, height);
            foreach (var part in parts)
            {
                var m = part.Rasterize(width, height, ct);
                for (int i = 0; i < m.Data.Length; i++) mask.Data[i] |= m.Data[i];
            }
            return mask;
        }
    }
}
