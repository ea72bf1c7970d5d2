using RegionChat.Data.Regions;
using RegionChat.Inference.Internal;
using RegionChat.Vision.Imaging;
using RegionChat.Vision.Regions;

namespace RegionChat.Inference;

/// <summary>
/// How a message's region is made for its image. The visual-token cache is keyed by (model, image id,
/// <see cref="CacheKey"/>), so the image is decoded and the region made only on a cache miss. Transports hand the core
/// a <see cref="RegionDescription"/> (<see cref="Described"/>, <see cref="Build"/>) and never vision types; in-process
/// callers may also bring a ready region (<see cref="Of(Region, string)"/>), and an RGBA image frames its own alpha.
/// </summary>
public abstract class RegionSource
{
    /// <summary>Names the region among those of the same image (the same description must give the same key).</summary>
    public abstract string CacheKey { get; }

    /// <summary>The region (null = the whole image), within <paramref name="budget"/> (checked before any mask is
    /// decoded); throws <see cref="InvalidRegionException"/> naming the field relative to the region.</summary>
    public abstract Region? CreateRegion(ImageLimits limits, RegionBudget budget);

    /// <summary>The request field an error of this region names, given the field of the region itself.</summary>
    public virtual string ErrorField(string regionField, InvalidRegionException e) =>
        e.Field.Length == 0 ? regionField : e.Field.StartsWith('[') ? regionField + e.Field : regionField + "." + e.Field;

    /// <summary>How a session record keeps the region so another replica can make it again: its JSON description,
    /// "alpha" for an RGBA image's own alpha; null when it cannot be kept (a region made in process).</summary>
    internal virtual string? StoredForm => null;

    /// <summary>The region a session record kept (<see cref="StoredForm"/>), under its visual-cache key.</summary>
    internal static RegionSource FromStored(string form, string cacheKey, RegionChatCoreOptions options) =>
        form == AlphaRegionSource.StoredName ? AlphaRegionSource.Instance : new Kept(RegionDescription.Parse(form), cacheKey, options);

    /// <summary>The whole image.</summary>
    public static RegionSource WholeImage { get; } = new Ready(null, "whole", RegionDescription.Whole.Instance);

    /// <summary>A region already made, with a key that names its description (the same key must mean the same region
    /// of the same image: the cache answers by it).</summary>
    public static RegionSource Of(Region region, string cacheKey) => new Ready(region, cacheKey);

    /// <summary>A region already made, under a key of its own: it never shares visual tokens with another.</summary>
    public static RegionSource Of(Region region) => new Ready(region, "object:" + Guid.NewGuid().ToString("N"));

    /// <summary>
    /// A region described transport-neutrally, made by the core on a visual-cache miss within its limits and
    /// <see cref="RegionChatCoreOptions.Regions"/> budget. <paramref name="describe"/> runs then too (a transport's own
    /// checks of its form may throw <see cref="InvalidRegionException"/> naming its fields); the core's errors name the
    /// fields as <paramref name="names"/> spells them. <paramref name="cacheKey"/> must name the description.
    /// </summary>
    public static RegionSource Described(Func<RegionDescription> describe, string cacheKey, RegionFieldNames names) =>
        new DescribedSource(describe, cacheKey, names);

    /// <summary>
    /// A region in the JSON form's description, made now within <paramref name="options"/>' image limits and region
    /// budget, so a bad one is refused before the request waits: throws <see cref="InvalidRegionException"/> naming the
    /// field as the JSON form does ("[1].mask", "polygon", "region" for the region itself). Errors found when it is drawn
    /// name fields the same way. <paramref name="cacheKey"/> must name the description.
    /// </summary>
    public static RegionSource Build(RegionDescription description, string cacheKey, RegionChatCoreOptions options, RegionCost? cost = null)
    {
        var limits = new ImageLimits { MaxBytes = options.MaxImageBytes, MaxPixels = options.MaxImagePixels };
        return new Ready(Region.From(description, limits, cost ?? options.Regions.Start()), cacheKey, description);
    }

    /// <summary>Alpha-CLIP's RGBA framing for PNG and WebP bytes (the formats whose alpha counts): the alpha channel is
    /// the region, the RGB the image. Null for other formats.</summary>
    public static RegionSource? FromImageAlpha(ReadOnlySpan<byte> bytes) => AlphaRegionSource.For(bytes);

    sealed class Ready(Region? region, string cacheKey, RegionDescription? description = null) : RegionSource
    {
        public override string CacheKey => cacheKey;
        public override Region? CreateRegion(ImageLimits limits, RegionBudget budget) => region;
        internal override string? StoredForm => description is RegionDescription.MaskFile ? null : description?.ToJson();
    }

    sealed class DescribedSource(Func<RegionDescription> describe, string cacheKey, RegionFieldNames names) : RegionSource
    {
        public override string CacheKey => cacheKey;
        public override Region? CreateRegion(ImageLimits limits, RegionBudget budget) => NamedRegions.Build(describe(), names, limits, budget);

        internal override string? StoredForm
        {
            get
            {
                try { return describe() is RegionDescription.MaskFile ? null : describe().ToJson(); }
                catch (InvalidRegionException) { return null; }
            }
        }
    }

    /// <summary>A region from a session record, made again on a visual-cache miss.</summary>
    sealed class Kept(RegionDescription description, string cacheKey, RegionChatCoreOptions options) : RegionSource
    {
        public override string CacheKey => cacheKey;
        public override Region? CreateRegion(ImageLimits limits, RegionBudget budget) => description is RegionDescription.Whole ? null :
            Region.From(description, new ImageLimits { MaxBytes = options.MaxImageBytes, MaxPixels = options.MaxImagePixels }, options.Regions);
        internal override string? StoredForm => description.ToJson();
    }
}
