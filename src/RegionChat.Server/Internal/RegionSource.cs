using RegionChat.Data.Regions;
using RegionChat.Vision.Imaging;
using RegionChat.Vision.Regions;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;
using PbV1 = RegionChat.Protos.V1;

namespace RegionChat.Server.Internal;

/// <summary>A decoded image and the region asked about (null = whole image).</summary>
internal sealed record DecodedVisual(Image<Rgb24> Image, Region? Region) : IDisposable
{
    public void Dispose() => Image.Dispose();
}

/// <summary>
/// How a message's region is made for its stored image. The visual-token cache is keyed by (model, image id,
/// <see cref="CacheKey"/>), so the image is decoded and the region made only on a cache miss.
/// Image errors are <see cref="InvalidImageException"/>s, region errors <see cref="InvalidRegionException"/>s.
/// </summary>
internal abstract class RegionSource
{
    public abstract string CacheKey { get; }

    public abstract DecodedVisual Decode(StoredImage stored, ImageLimits limits);

    /// <summary>The request field an error of this region names, given the field of the region itself.</summary>
    public virtual string ErrorField(string regionField, InvalidRegionException e) =>
        e.Field.Length == 0 ? regionField : e.Field.StartsWith('[') ? regionField + e.Field : regionField + "." + e.Field;

    /// <summary>The RGB image and a region made independently of its pixels.</summary>
    protected static DecodedVisual WithRegion(StoredImage stored, ImageLimits limits, Func<Region?> region)
    {
        var image = ImageStore.Decode(stored, limits);
        try { return new DecodedVisual(image, region()); }
        catch
        {
            image.Dispose();
            throw;
        }
    }
}

/// <summary>A region of the gRPC API (null = whole image); errors name the proto field.</summary>
internal sealed class ProtoRegionSource(PbV1.Region? region) : RegionSource
{
    public static ProtoRegionSource WholeImage { get; } = new(null);

    public override string CacheKey { get; } = ProtoRegions.CacheKey(region);

    public override DecodedVisual Decode(StoredImage stored, ImageLimits limits) =>
        WithRegion(stored, limits, () => ProtoRegions.ToRegion(region, limits));
}

/// <summary>A region already parsed from the request (the OpenAI endpoint's JSON "region"), with a key that names
/// its description.</summary>
internal sealed class ParsedRegionSource(Region region, string cacheKey) : RegionSource
{
    public override string CacheKey => cacheKey;

    public override DecodedVisual Decode(StoredImage stored, ImageLimits limits) => WithRegion(stored, limits, () => region);
}
