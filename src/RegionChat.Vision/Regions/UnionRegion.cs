using RegionChat.Data.Regions;

namespace RegionChat.Vision.Regions;

/// <summary>
/// Several regions together (pixels inside any of them). Each part must be valid on its own — a part outside the image is
/// an error naming it ("[1].box"), since it is almost certainly a mistake in the request.
/// </summary>
public sealed class UnionRegion : Region
{
    public UnionRegion(IReadOnlyList<Region> parts)
    {
        if (parts.Count == 0) throw new InvalidRegionException("regions", InvalidRegionReason.Malformed, "a union needs at least one region");
        Parts = parts.ToArray();
    }

    public IReadOnlyList<Region> Parts { get; }

    public override string Kind => "regions";

    protected override RegionMask RasterizeCore(int width, int height, CancellationToken ct)
    {
        var mask = new RegionMask(width, height);
        for (int k = 0; k < Parts.Count; k++)
        {
            RegionMask part;
            try
            {
                part = Parts[k].Rasterize(width, height, ct);
            }
            catch (InvalidRegionException e)
            {
                throw e.Under($"[{k}]");
            }
            for (int i = 0; i < part.Data.Length; i++) mask.Data[i] |= part.Data[i];
        }
        return mask;
    }
}
