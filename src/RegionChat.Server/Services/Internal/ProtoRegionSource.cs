using RegionChat.Data.Regions;
using RegionChat.Inference;
using RegionChat.Vision.Imaging;
using RegionChat.Vision.Regions;
using PbV1 = RegionChat.Protos.V1;

namespace RegionChat.Server.Services.Internal;

/// <summary>A region of the gRPC API for the core (null = whole image): made only on a visual-cache miss; errors name
/// the proto field.</summary>
internal sealed class ProtoRegionSource(PbV1.Region? region) : RegionSource
{
    public override string CacheKey { get; } = ProtoRegions.CacheKey(region);

    public override Region? CreateRegion(ImageLimits limits, RegionBudget budget) => ProtoRegions.ToRegion(region, limits, budget);
}
