using System.Security.Cryptography;
using Google.Protobuf;
using RegionChat.Data.Regions;
using RegionChat.Inference;
using PbV1 = RegionChat.Protos.V1;

namespace RegionChat.Server.Services.Internal;

/// <summary>
/// Maps the proto <see cref="PbV1.Region"/> to the transport-neutral <see cref="RegionDescription"/> that the core makes
/// a region of (on a visual-cache miss, within its region budget). Every error, whether found in the proto form, by the
/// budget or when the region is drawn against its image, names the proto path relative to the Region message ("box",
/// "mask_png", "rle.size", "union.regions[1].polygon.points"; "" for the Region itself), so clients get the name of the
/// field they sent rather than the JSON form's names.
/// </summary>
internal static class ProtoRegions
{
    /// <summary>The region of a request (the whole image when unset), described when the core needs it.</summary>
    public static RegionSource Source(PbV1.Region? region) =>
        region == null ? RegionSource.WholeImage : RegionSource.Described(() => Describe(region, ""), CacheKey(region), ProtoFieldNames.Instance);

    /// <summary>The description of a proto region; the proto form's own mistakes (no kind, a NaN corner, a size of one
    /// value, …) are refused here, naming the proto field under <paramref name="path"/>.</summary>
    public static RegionDescription Describe(PbV1.Region r, string path)
    {
        string F(string name) => Join(path, name);
        switch (r.KindCase)
        {
            case PbV1.Region.KindOneofCase.None:
                throw new InvalidRegionException(path, InvalidRegionReason.Malformed,
                    "a region needs one of mask_png, box, polygon, scribble, rle, whole_image or union");
            case PbV1.Region.KindOneofCase.WholeImage:
                if (!r.WholeImage) throw new InvalidRegionException(F("whole_image"), InvalidRegionReason.Malformed, "whole_image must be true when set");
                return RegionDescription.Whole.Instance;
            case PbV1.Region.KindOneofCase.MaskPng:
                return new RegionDescription.MaskBytes(r.MaskPng.ToByteArray());
            case PbV1.Region.KindOneofCase.Box:
            {
                var b = r.Box;
                foreach (var (v, n) in new[] { (b.X0, "x0"), (b.Y0, "y0"), (b.X1, "x1"), (b.Y1, "y1") })
                    if (!float.IsFinite(v)) throw new InvalidRegionException(F("box." + n), InvalidRegionReason.Malformed, $"must be a finite number, got {v}");
                return new RegionDescription.Box(b.X0, b.Y0, b.X1, b.Y1, b.Normalized);
            }
            case PbV1.Region.KindOneofCase.Polygon:
                return new RegionDescription.Polygon(Points(r.Polygon.Points, F("polygon.points")), r.Polygon.FillRule == PbV1.FillRule.NonZero);
            case PbV1.Region.KindOneofCase.Scribble:
                if (!float.IsFinite(r.Scribble.Width) || r.Scribble.Width <= 0)
                    throw new InvalidRegionException(F("scribble.width"), InvalidRegionReason.Malformed,
                        $"must be a positive number of pixels, got {r.Scribble.Width}");
                return new RegionDescription.Scribble(Points(r.Scribble.Points, F("scribble.points")), r.Scribble.Width);
            case PbV1.Region.KindOneofCase.Rle:
            {
                var rle = r.Rle;
                string size = F("rle.size");
                if (rle.Size.Count != 2) throw new InvalidRegionException(size, InvalidRegionReason.Malformed,
                    $"needs [height, width], got {rle.Size.Count} values");
                if (rle.Size[0] is 0 or > int.MaxValue || rle.Size[1] is 0 or > int.MaxValue)
                    throw new InvalidRegionException(size, InvalidRegionReason.Malformed, $"[{rle.Size[0]}, {rle.Size[1]}] must be a positive [height, width]");
                int h = (int)rle.Size[0], w = (int)rle.Size[1];
                return rle.CountsCase switch
                {
                    PbV1.CocoRle.CountsOneofCase.Compressed => new RegionDescription.Rle(h, w, rle.Compressed, null),
                    PbV1.CocoRle.CountsOneofCase.Uncompressed => new RegionDescription.Rle(h, w, null, rle.Uncompressed.Counts.Select(c => (long)c).ToArray()),
                    _ => throw new InvalidRegionException(F("rle"), InvalidRegionReason.Malformed, "needs compressed or uncompressed counts"),
                };
            }
            case PbV1.Region.KindOneofCase.Union:
                return new RegionDescription.Union(r.Union.Regions.Select((p, i) => Describe(p, F($"union.regions[{i}]"))).ToArray());
            default:
                throw new InvalidRegionException(path, InvalidRegionReason.Malformed, $"unsupported region kind {r.KindCase}");
        }
    }

    static string Join(string path, string name) => path.Length == 0 ? name : path + "." + name;

    static (double X, double Y)[] Points(IReadOnlyList<float> xy, string field)
    {
        foreach (var v in xy)
            if (!float.IsFinite(v)) throw new InvalidRegionException(field, InvalidRegionReason.Malformed, $"coordinates must be finite numbers, got {v}");
        if (xy.Count % 2 != 0)
            throw new InvalidRegionException(field, InvalidRegionReason.Malformed, $"needs x,y pairs but has an odd number of values ({xy.Count})");
        var points = new (double X, double Y)[xy.Count / 2];
        for (int i = 0; i < points.Length; i++) points[i] = (xy[2 * i], xy[2 * i + 1]);
        return points;
    }

    /// <summary>A stable key of a region for the visual-token cache: SHA-256 of its deterministic proto encoding.</summary>
    public static string CacheKey(PbV1.Region? region)
    {
        if (region == null) return "whole";
        // Region has no map fields, so its binary encoding is deterministic.
        return Convert.ToHexString(SHA256.HashData(region.ToByteArray()));
    }

    /// <summary>The proto paths of the fields the core checks.</summary>
    sealed class ProtoFieldNames : RegionFieldNames
    {
        public static ProtoFieldNames Instance { get; } = new();

        public override string Part(string unionPath, int index) => Join(unionPath, $"union.regions[{index}]");

        public override string Union(string path, bool depth) => Join(path, depth ? "union" : "union.regions");

        public override string Leaf(string path, RegionDescription node, InvalidRegionException error) => Join(path, node switch
        {
            RegionDescription.MaskBytes => "mask_png",
            RegionDescription.Box => "box",
            RegionDescription.Polygon => "polygon.points",
            RegionDescription.Scribble => error.Field == "scribble.width" ? "scribble.width" : "scribble.points",
            // A size that differs from the image's names the size; anything wrong with the runs names the counts sent.
            RegionDescription.Rle r => error.Reason == InvalidRegionReason.SizeMismatch ? "rle.size"
                : r.Compressed != null ? "rle.compressed" : "rle.uncompressed.counts",
            RegionDescription.Whole => "whole_image",
            _ => "",
        });
    }
}
