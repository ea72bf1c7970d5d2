using Google.Protobuf;
using RegionChat.Client.Internal;
using RegionChat.Data.Regions;
using PbV1 = RegionChat.Protos.V1;

namespace RegionChat.Client;

/// <summary>
/// The part of an image a question is about. Build one with the factories (<see cref="Box"/>, <see cref="NormalizedBox"/>,
/// <see cref="Polygon"/>, <see cref="Scribble"/>, <see cref="Mask"/>, <see cref="Rle(int, int, string)"/>,
/// <see cref="Whole"/>, <see cref="Union"/>) or parse the JSON form with <see cref="ImageRegionJson.Parse(string, string?)"/>.
/// Coordinates are in the image's own pixels (after EXIF orientation) unless a box is normalised. The server turns every
/// form into a binary mask; what it rejects (an empty region, one wholly outside the image) comes back as
/// <see cref="RegionChatException"/> with status InvalidArgument naming the field.
/// </summary>
public abstract record ImageRegion
{
    private protected ImageRegion() { }

    /// <summary>The box [x0, x1) × [y0, y1) in pixels.</summary>
    public static ImageRegion Box(float x0, float y0, float x1, float y1) => new RegionBox(x0, y0, x1, y1, Normalized: false);

    /// <summary>The box [x0, x1) × [y0, y1) in fractions 0..1 of the image's width and height.</summary>
    public static ImageRegion NormalizedBox(float x0, float y0, float x1, float y1) => new RegionBox(x0, y0, x1, y1, Normalized: true);

    /// <summary>A filled polygon; points as x, y pairs in pixels (at least 3 points).</summary>
    public static ImageRegion Polygon(IEnumerable<(float X, float Y)> points, bool nonZeroFill = false) =>
        new RegionPolygon([.. points], nonZeroFill);

    /// <summary>A brush stroke: the pixels within <paramref name="width"/>/2 of the polyline.</summary>
    public static ImageRegion Scribble(IEnumerable<(float X, float Y)> points, float width) => new RegionScribble([.. points], width);

    /// <summary>A mask image of the picture's size (PNG, 8-bit grey or 1-bit; pixels ≥ 128 are inside; in a 0/1 mask, the 1s).</summary>
    public static ImageRegion Mask(ReadOnlyMemory<byte> png) => new RegionMask(png);

    /// <summary>A COCO RLE in its compressed string form (as pycocotools writes it), of an image <paramref name="height"/> × <paramref
    /// name="width"/>.</summary>
    public static ImageRegion Rle(int height, int width, string compressedCounts) => new RegionRle(height, width, compressedCounts, null);

    /// <summary>A COCO RLE with plain run lengths (column-major, background first).</summary>
    public static ImageRegion Rle(int height, int width, IEnumerable<uint> counts) => new RegionRle(height, width, null, [.. counts]);

    /// <summary>The whole image (the same as no region).</summary>
    public static ImageRegion Whole { get; } = new RegionWhole();

    /// <summary>The union of several regions.</summary>
    public static ImageRegion Union(params IEnumerable<ImageRegion> parts) => new RegionUnion([.. parts]);

    /// <summary>The region a <see cref="RegionDescription"/> (the JSON region grammar of RegionChat.Data, as the CLI and
    /// batch files write it) stands for; a mask file is read now. Throws <see cref="ArgumentException"/> for what the
    /// factories refuse (a box with x1 &lt;= x0, a polygon of two points, an unreadable mask file, …).</summary>
    public static ImageRegion From(RegionDescription description) => DescribedRegions.ToImageRegion(description);

    /// <summary>A proto region built elsewhere, sent as it is (the server validates it).</summary>
    public static ImageRegion FromProto(PbV1.Region region) => new RegionProto(region ?? throw new ArgumentNullException(nameof(region)));

    /// <summary>The proto form the gRPC API takes (for callers that use the generated client directly).</summary>
    public PbV1.Region ToProto()
    {
        var region = new PbV1.Region();
        Fill(region);
        return region;
    }

    private protected abstract void Fill(PbV1.Region region);

    /// <summary>Checks what can be checked without the image, so a malformed region fails here with a clear message.</summary>
    private protected static void Require(bool ok, string message)
    {
        if (!ok) throw new ArgumentException(message);
    }

    private protected static void RequireFinite(IEnumerable<(float X, float Y)> points, string kind)
    {
        foreach (var (x, y) in points)
            Require(float.IsFinite(x) && float.IsFinite(y), $"{kind} coordinates must be finite numbers, got ({x}, {y})");
    }

    private protected static IEnumerable<float> Flat(IEnumerable<(float X, float Y)> points) => points.SelectMany(p => new[] { p.X, p.Y });
}

/// <summary>An axis-aligned box [x0, x1) × [y0, y1), in pixels or (normalised) fractions of the image size.</summary>
public sealed record RegionBox : ImageRegion
{
    /// <summary>A box; throws <see cref="ArgumentException"/> unless the coordinates are finite with x1 &gt; x0 and y1 &gt; y0.</summary>
    public RegionBox(float X0, float Y0, float X1, float Y1, bool Normalized)
    {
        Require(float.IsFinite(X0) && float.IsFinite(Y0) && float.IsFinite(X1) && float.IsFinite(Y1),
            $"box coordinates must be finite numbers, got [{X0}, {Y0}, {X1}, {Y1}]");
        Require(X1 > X0 && Y1 > Y0, $"a box needs x1 > x0 and y1 > y0, got [{X0}, {Y0}, {X1}, {Y1}]");
        (this.X0, this.Y0, this.X1, this.Y1, this.Normalized) = (X0, Y0, X1, Y1, Normalized);
    }

    /// <summary>Left edge (inclusive).</summary>
    public float X0 { get; }
    /// <summary>Top edge (inclusive).</summary>
    public float Y0 { get; }
    /// <summary>Right edge (exclusive).</summary>
    public float X1 { get; }
    /// <summary>Bottom edge (exclusive).</summary>
    public float Y1 { get; }
    /// <summary>Whether the coordinates are fractions 0..1 of the image size rather than pixels.</summary>
    public bool Normalized { get; }

    private protected override void Fill(PbV1.Region region) =>
        region.Box = new PbV1.Box { X0 = X0, Y0 = Y0, X1 = X1, Y1 = Y1, Normalized = Normalized };

    /// <inheritdoc/>
    public override string ToString() => $"box [{X0}, {Y0}, {X1}, {Y1}]{(Normalized ? " (normalized)" : "")}";
}

/// <summary>A filled polygon in pixels; self-intersections are filled even-odd unless <see cref="NonZeroFill"/>.</summary>
public sealed record RegionPolygon : ImageRegion
{
    /// <summary>A polygon; throws <see cref="ArgumentException"/> for fewer than 3 points or a coordinate that is not finite.</summary>
    public RegionPolygon(IReadOnlyList<(float X, float Y)> Points, bool NonZeroFill = false)
    {
        Require(Points.Count >= 3, $"a polygon needs at least 3 points, got {Points.Count}");
        RequireFinite(Points, "polygon");
        (this.Points, this.NonZeroFill) = (Points, NonZeroFill);
    }

    /// <summary>The points, x and y in pixels.</summary>
    public IReadOnlyList<(float X, float Y)> Points { get; }
    /// <summary>Fill self-intersections by the non-zero winding rule instead of even-odd.</summary>
    public bool NonZeroFill { get; }

    private protected override void Fill(PbV1.Region region) => region.Polygon = new PbV1.Polygon
    {
        Points = { Flat(Points) },
        FillRule = NonZeroFill ? PbV1.FillRule.NonZero : PbV1.FillRule.EvenOdd,
    };

    /// <inheritdoc/>
    public bool Equals(RegionPolygon? other) => other is not null && NonZeroFill == other.NonZeroFill && Points.SequenceEqual(other.Points);
    /// <inheritdoc/>
    public override int GetHashCode() => HashCode.Combine(Points.Count, NonZeroFill);
    /// <inheritdoc/>
    public override string ToString() => $"polygon of {Points.Count} points";
}

/// <summary>A brush stroke: every pixel within <see cref="Width"/>/2 of the polyline.</summary>
public sealed record RegionScribble : ImageRegion
{
    /// <summary>A scribble; throws <see cref="ArgumentException"/> without points, for a coordinate that is not finite or a
    /// width that is not positive.</summary>
    public RegionScribble(IReadOnlyList<(float X, float Y)> Points, float Width)
    {
        Require(Points.Count >= 1, "a scribble needs at least 1 point");
        RequireFinite(Points, "scribble");
        Require(float.IsFinite(Width) && Width > 0, $"a scribble's width must be a positive number of pixels, got {Width}");
        (this.Points, this.Width) = (Points, Width);
    }

    /// <summary>The points, x and y in pixels.</summary>
    public IReadOnlyList<(float X, float Y)> Points { get; }
    /// <summary>The brush width in pixels.</summary>
    public float Width { get; }

    private protected override void Fill(PbV1.Region region) =>
        region.Scribble = new PbV1.Scribble { Points = { Flat(Points) }, Width = Width };

    /// <inheritdoc/>
    public bool Equals(RegionScribble? other) => other is not null && Width == other.Width && Points.SequenceEqual(other.Points);
    /// <inheritdoc/>
    public override int GetHashCode() => HashCode.Combine(Points.Count, Width);
    /// <inheritdoc/>
    public override string ToString() => $"scribble of {Points.Count} points, width {Width}";
}

/// <summary>A mask image of the picture's size: pixels ≥ 128 are inside (in a 0/1 mask, the 1s). Decoded by the server.</summary>
public sealed record RegionMask : ImageRegion
{
    /// <summary>A mask from its encoded image bytes; throws <see cref="ArgumentException"/> when they are empty.</summary>
    public RegionMask(ReadOnlyMemory<byte> Png)
    {
        Require(!Png.IsEmpty, "a mask needs the bytes of an image");
        this.Png = Png;
    }

    /// <summary>The mask's encoded image bytes (PNG, 8-bit grey or 1-bit).</summary>
    public ReadOnlyMemory<byte> Png { get; }

    private protected override void Fill(PbV1.Region region) => region.MaskPng = ByteString.CopyFrom(Png.Span);

    // Compared by content: two masks with the same bytes are the same region.
    /// <inheritdoc/>
    public bool Equals(RegionMask? other) => other is not null && Png.Span.SequenceEqual(other.Png.Span);
    /// <inheritdoc/>
    public override int GetHashCode() => Png.Length;
    /// <inheritdoc/>
    public override string ToString() => $"mask ({Png.Length} bytes)";
}

/// <summary>A COCO run-length encoding (column-major) of an image <see cref="Height"/> × <see cref="Width"/>: either the
/// compressed string or the plain counts.</summary>
public sealed record RegionRle : ImageRegion
{
    /// <summary>An RLE; give exactly one of <paramref name="Compressed"/> and <paramref name="Counts"/>. Throws
    /// <see cref="ArgumentException"/> for a size that is not positive or when both or neither are given.</summary>
    /// <param name="Height">The image height in pixels.</param>
    /// <param name="Width">The image width in pixels.</param>
    /// <param name="Compressed">The counts in pycocotools' compressed string form.</param>
    /// <param name="Counts">The plain run lengths.</param>
    public RegionRle(int Height, int Width, string? Compressed, IReadOnlyList<uint>? Counts)
    {
        Require(Height > 0 && Width > 0, $"an RLE's size must be positive, got [{Height}, {Width}]");
        Require((Compressed == null) != (Counts == null), "an RLE needs either the compressed string or the counts");
        Require(Compressed is null || Compressed.Length > 0, "an RLE's compressed counts are empty");
        (this.Height, this.Width, this.Compressed, this.Counts) = (Height, Width, Compressed, Counts);
    }

    /// <summary>The image height in pixels.</summary>
    public int Height { get; }
    /// <summary>The image width in pixels.</summary>
    public int Width { get; }
    /// <summary>The compressed counts, or null when <see cref="Counts"/> holds them.</summary>
    public string? Compressed { get; }
    /// <summary>The plain run lengths (column-major, background first), or null when <see cref="Compressed"/> holds them.</summary>
    public IReadOnlyList<uint>? Counts { get; }

    private protected override void Fill(PbV1.Region region)
    {
        var rle = new PbV1.CocoRle { Size = { (uint)Height, (uint)Width } };
        if (Compressed != null) rle.Compressed = Compressed;
        else rle.Uncompressed = new PbV1.CountList { Counts = { Counts! } };
        region.Rle = rle;
    }

    /// <inheritdoc/>
    public bool Equals(RegionRle? other) => other is not null && (Height, Width, Compressed) == (other.Height, other.Width, other.Compressed)
        && (Counts == null ? other.Counts == null : other.Counts != null && Counts.SequenceEqual(other.Counts));
    /// <inheritdoc/>
    public override int GetHashCode() => HashCode.Combine(Height, Width, Compressed);
    /// <inheritdoc/>
    public override string ToString() => $"rle {Height}×{Width}";
}

/// <summary>The whole image (alpha all ones).</summary>
public sealed record RegionWhole : ImageRegion
{
    private protected override void Fill(PbV1.Region region) => region.WholeImage = true;
    /// <inheritdoc/>
    public override string ToString() => "whole image";
}

/// <summary>A region given in its proto form.</summary>
internal sealed record RegionProto(PbV1.Region Proto) : ImageRegion
{
    private protected override void Fill(PbV1.Region region) => region.MergeFrom(Proto);
    /// <inheritdoc/>
    public override string ToString() => Proto.ToString();
}

/// <summary>The union of several regions.</summary>
public sealed record RegionUnion : ImageRegion
{
    /// <summary>A union; throws <see cref="ArgumentException"/> without parts or with a null part.</summary>
    public RegionUnion(IReadOnlyList<ImageRegion> Parts)
    {
        Require(Parts.Count > 0, "a union needs at least one region");
        Require(Parts.All(p => p is not null), "a union's regions must not be null");
        this.Parts = Parts;
    }

    /// <summary>The regions whose union this is.</summary>
    public IReadOnlyList<ImageRegion> Parts { get; }

    private protected override void Fill(PbV1.Region region) =>
        region.Union = new PbV1.RegionUnion { Regions = { Parts.Select(p => p.ToProto()) } };

    /// <inheritdoc/>
    public bool Equals(RegionUnion? other) => other is not null && Parts.SequenceEqual(other.Parts);
    /// <inheritdoc/>
    public override int GetHashCode() => Parts.Count;
    /// <inheritdoc/>
    public override string ToString() => $"union of {Parts.Count} regions";
}
