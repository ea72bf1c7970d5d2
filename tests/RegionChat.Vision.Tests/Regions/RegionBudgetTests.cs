using System.Buffers.Binary;
using System.Text;
using RegionChat.Data.Regions;
using RegionChat.Vision.Imaging;
using RegionChat.Vision.Regions;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats.Png;
using SixLabors.ImageSharp.PixelFormats;

namespace RegionChat.Vision.Tests.Regions;

/// <summary>
/// Issue 16.1 and 16.7: <see cref="Region.From(RegionDescription, ImageLimits?, RegionBudget?)"/> checks a region's cost
/// against its <see cref="RegionBudget"/> before decoding or drawing anything, drawing can be cancelled, and polygons with
/// coordinates near ±1e300 are drawn as what they cover.
/// </summary>
public class RegionBudgetTests
{
    static (double X, double Y)[] Line(int points) => Enumerable.Range(0, points).Select(i => (i % 64 + 0.5, 8.0 + i % 3)).ToArray();

    static InvalidRegionException Refused(Func<Region> build, string field, string setting)
    {
        var e = Assert.Throws<InvalidRegionException>(build);
        Assert.Equal(InvalidRegionReason.OverBudget, e.Reason);
        Assert.Equal(field, e.Field);
        Assert.Contains($"{RegionBudget.Section}:{setting}", e.Description);
        return e;
    }

    [Fact]
    public void AJsonPolygonOverMaxPointsIsRefused()
    {
        // The JSON form had no limit: a 1,000,000-point polygon was accepted and drawn.
        var json = "{\"polygon\": [" + string.Join(",", Line(RegionBudget.Default.MaxPoints + 1).Select(p => $"{p.X},{p.Y}")) + "]}";
        var e = Refused(() => Region.From(RegionDescription.Parse(json)), "polygon", "MaxPoints");
        Assert.Contains("100,001 points", e.Description);
        Assert.Contains("100,000", e.Description);
        _ = Region.From(new RegionDescription.Polygon(Line(RegionBudget.Default.MaxPoints)));
    }

    [Fact]
    public void AWideScribbleThroughManyPointsIsRefusedByWidthTimesPoints()
    {
        // The issue's scribble: 100k points, width 1e4, held a request slot for 15.5 s.
        Refused(() => Region.From(new RegionDescription.Scribble(Line(100_000), 1e4)), "scribble", "MaxScribbleCost");
        Refused(() => Region.From(new RegionDescription.Scribble(Line(1000), 2000)), "scribble", "MaxScribbleCost");
        Refused(() => Region.From(new RegionDescription.Scribble(Line(200_000), 1)), "scribble.points", "MaxPoints");
        _ = Region.From(new RegionDescription.Scribble(Line(1000), 1000));
    }

    [Fact]
    public void UnionsAreBoundedInPartsAndDepth()
    {
        RegionDescription Box(int i) => new RegionDescription.Box(i, i, i + 4, i + 4);
        var parts = Enumerable.Range(0, RegionBudget.Default.MaxUnionParts + 1).Select(Box).ToArray();
        Refused(() => Region.From(new RegionDescription.Union(parts)), "region", "MaxUnionParts");
        _ = Region.From(new RegionDescription.Union(parts[1..]));

        RegionDescription nested = Box(0);
        for (int d = 0; d < RegionBudget.Default.MaxUnionDepth; d++) nested = new RegionDescription.Union([nested]);
        _ = Region.From(nested);
        Refused(() => Region.From(new RegionDescription.Union([Box(1), nested])), "[1][0][0][0].region", "MaxUnionDepth");
    }

    [Fact]
    public void PolygonsAndScribblesThatWouldTouchMoreThanTheMaskBudgetAreRefusedBeforeDrawing()
    {
        // 20,000 points zig-zagging over the whole height of a 2×32768 image: 20,000 edges of 32,768 rows each, 6.6e8
        // crossings, within the point budget (100,000) but past MaxMaskPixels (1e8).
        var zigzag = Enumerable.Range(0, 20_000).Select(i => (X: i % 2 * 1.0 + 0.25 * (i % 4 / 2), Y: i % 2 == 0 ? 0.0 : 32768.0)).ToArray();
        var polygon = Region.From(new RegionDescription.Polygon(zigzag));
        var e = Assert.Throws<InvalidRegionException>(() => polygon.Rasterize(2, 32768));
        Assert.Equal((InvalidRegionReason.OverBudget, "polygon"), (e.Reason, e.Field));
        Assert.Contains("MaxMaskPixels", e.Description);
        // A scribble of 1,000 points back and forth across a 4000×4000 image, 40 px wide: 1.6e8 pixels touched, while
        // width × points (4e4) is far within MaxScribbleCost.
        var strokes = Enumerable.Range(0, 1_000).Select(i => (X: i % 2 == 0 ? 0.0 : 4000.0, Y: 2000.0)).ToArray();
        var scribble = Region.From(new RegionDescription.Scribble(strokes, 40));
        e = Assert.Throws<InvalidRegionException>(() => scribble.Rasterize(4000, 4000));
        Assert.Equal((InvalidRegionReason.OverBudget, "scribble"), (e.Reason, e.Field));
        // Ordinary shapes draw: a 100,000-point circle on a tall image (each edge a few rows) and a short stroke.
        var circle = Enumerable.Range(0, 100_000).Select(i => (X: 1 + Math.Cos(i * Math.Tau / 100_000), Y: 16000 + 15000 * Math.Sin(i * Math.Tau / 100_000))).ToArray();
        Assert.False(Region.From(new RegionDescription.Polygon(circle)).Rasterize(2, 32768).IsEmpty);
        Assert.False(Region.From(new RegionDescription.Scribble([(10, 10), (3000, 3000)], 40)).Rasterize(4000, 4000).IsEmpty);
    }

    [Fact]
    public void NestedUnionsShareOneBudgetOfParts()
    {
        // 8 unions of 8 boxes, each within the limit of 64 parts, hold 72 parts in all: refused before anything is drawn.
        RegionDescription Box(int i) => new RegionDescription.Box(i, i, i + 4, i + 4);
        var eight = Enumerable.Range(0, 8).Select(Box).ToArray();
        var wide = new RegionDescription.Union(Enumerable.Range(0, 8).Select(_ => (RegionDescription)new RegionDescription.Union(eight)).ToArray());
        Refused(() => Region.From(wide), "[7].region", "MaxUnionParts");   // the union that passes the limit
        // 7 of them (63 parts in all) pass.
        _ = Region.From(new RegionDescription.Union(Enumerable.Range(0, 7).Select(_ => (RegionDescription)new RegionDescription.Union(eight)).ToArray()));
    }

    [Fact]
    public void AMaskIsCountedFromItsHeaderBeforeItIsDecoded()
    {
        // A few bytes whose header claims 12000×12000: over the budget's 100,000,000 mask pixels, refused as such rather than
        // decoded (the body is empty, so a decode would fail as unreadable, after allocating the pixels).
        var limits = new ImageLimits { MaxPixels = 1L << 40 };
        Refused(() => Region.From(new RegionDescription.MaskBytes(PngHeaderClaiming(12000, 12000)), limits), "mask", "MaxMaskPixels");
        var unreadable = Assert.Throws<InvalidRegionException>(() => Region.From(new RegionDescription.MaskBytes(PngHeaderClaiming(64, 64)), limits));
        Assert.Equal(InvalidRegionReason.Unreadable, unreadable.Reason);
    }

    [Fact]
    public void MaskPixelsAreSummedOverAUnion()
    {
        var budget = new RegionBudget { MaxMaskPixels = 10_000 };
        var mask = new RegionDescription.MaskBytes(MaskPng(64, 64)); // 4096 pixels
        _ = Region.From(new RegionDescription.Union([mask, mask]), budget: budget);
        var e = Refused(() => Region.From(new RegionDescription.Union([mask, mask, mask]), budget: budget), "[2].mask", "MaxMaskPixels");
        Assert.Contains("12,288", e.Description);
    }

    [Fact]
    public void DrawingStopsWhenCancelled()
    {
        using var cancelled = new CancellationTokenSource();
        cancelled.Cancel();
        var regions = new Region[]
        {
            new PolygonRegion([new(0, 0), new(60, 0), new(30, 60)]),
            new ScribbleRegion([new(0, 0), new(60, 60), new(0, 60)], 5),
            new UnionRegion([new BoxRegion(0, 0, 8, 8), new ScribbleRegion([new(0, 0), new(60, 60)], 5)]),
        };
        foreach (var region in regions)
        {
            Assert.ThrowsAny<OperationCanceledException>(() => region.Rasterize(64, 64, cancelled.Token));
            Assert.False(region.Rasterize(64, 64).IsEmpty);
        }

        // Cancelled while the first part is drawn: the union stops before the next one.
        using var during = new CancellationTokenSource();
        var drawn = new List<string>();
        var union = new UnionRegion([new CancelsWhenDrawn(during, drawn), new CancelsWhenDrawn(null, drawn)]);
        Assert.ThrowsAny<OperationCanceledException>(() => union.Rasterize(16, 16, during.Token));
        Assert.Equal(["cancels"], drawn);
    }

    /// <summary>A box in the corner that cancels <paramref name="cancel"/> as it is drawn, and records that it was.</summary>
    sealed class CancelsWhenDrawn(CancellationTokenSource? cancel, List<string> drawn) : Region
    {
        public override string Kind => "test";

        protected override RegionMask RasterizeCore(int width, int height, CancellationToken ct)
        {
            drawn.Add(cancel == null ? "next" : "cancels");
            cancel?.Cancel();
            return new BoxRegion(0, 0, 2, 2).Rasterize(width, height);
        }
    }

    [Fact]
    public void APolygonAroundTheImageWithHugeCoordinatesCoversIt()
    {
        // Issue 16.7: (yc − a.Y)·(b.X − a.X) overflowed to infinity and the polygon was refused as empty; 1e30 worked.
        foreach (double big in new[] { 1e30, 1e300, double.MaxValue / 2, double.MaxValue })
        {
            var polygon = new PolygonRegion([new(-big, -big), new(big, -big), new(0, big)]);
            Assert.Equal(32 * 24, polygon.Rasterize(32, 24).Area());
        }
        var json = Region.From(RegionDescription.Parse("{\"polygon\": [-1e300,-1e300, 1e300,-1e300, 0,1e300]}"));
        Assert.Equal(64 * 48, json.Rasterize(64, 48).Area());
    }

    [Fact]
    public void ScribblesDrawExactlyThePixelsWithinHalfTheWidth()
    {
        // The stroke is drawn a row run at a time; it must take exactly the pixels whose centres are within width/2 of a
        // segment, as the pixel-by-pixel test does.
        var random = new Random(16);
        for (int n = 0; n < 400; n++)
        {
            int count = 1 + random.Next(5);
            var points = Enumerable.Range(0, count).Select(_ => new RegionPoint(Math.Round(random.NextDouble() * 90 - 15, random.Next(3)),
                Math.Round(random.NextDouble() * 70 - 10, random.Next(3)))).ToArray();
            if (n % 7 == 0 && count > 1) points[1] = points[0] with { Y = points[0].Y + random.Next(3) }; // horizontal and short
            if (n % 11 == 0 && count > 1) points[1] = points[0] with { X = points[0].X }; // vertical
            double width = new[] { 0.5, 1, 2, 3, 1.7, 8, 25, 0.2, 4.5 }[n % 9];
            var region = new ScribbleRegion(points, width);
            string expected = Reference(points, width, 64, 48);
            string actual;
            try { actual = MaskText.Of(region.Rasterize(64, 48)); }
            catch (InvalidRegionException) { actual = MaskText.Of(new RegionMask(64, 48)); }
            Assert.True(expected == actual, $"case {n}: width {width}, points {string.Join(" ", points.Select(p => $"({p.X},{p.Y})"))}");
        }
    }

    /// <summary>The pixel-by-pixel definition: a pixel is inside when its centre is within width/2 of a segment.</summary>
    static string Reference(RegionPoint[] points, double width, int w, int h)
    {
        var mask = new RegionMask(w, h);
        double r = width / 2, r2 = r * r;
        var segments = points.Length == 1 ? [(points[0], points[0])] : points.Zip(points.Skip(1)).ToArray();
        for (int j = 0; j < h; j++)
        for (int i = 0; i < w; i++)
            foreach (var (a, b) in segments)
            {
                double dx = b.X - a.X, dy = b.Y - a.Y, length2 = dx * dx + dy * dy;
                double px = i + 0.5 - a.X, py = j + 0.5 - a.Y;
                double t = length2 > 0 ? Math.Clamp((px * dx + py * dy) / length2, 0, 1) : 0;
                double ex = px - t * dx, ey = py - t * dy;
                if (ex * ex + ey * ey <= r2) mask.Data[j * w + i] = RegionMask.Inside;
            }
        return MaskText.Of(mask);
    }

    static byte[] MaskPng(int width, int height)
    {
        using var image = new Image<L8>(width, height);
        image[1, 1] = new L8(255);
        using var ms = new MemoryStream();
        image.Save(ms, new PngEncoder());
        return ms.ToArray();
    }

    /// <summary>A PNG whose IHDR (correct CRC) claims width×height RGB pixels, with an empty IDAT: a few dozen bytes.</summary>
    static byte[] PngHeaderClaiming(int width, int height)
    {
        var ihdr = new byte[13];
        BinaryPrimitives.WriteInt32BigEndian(ihdr, width);
        BinaryPrimitives.WriteInt32BigEndian(ihdr.AsSpan(4), height);
        ihdr[8] = 8;
        ihdr[9] = 2;
        using var ms = new MemoryStream();
        ms.Write([0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A]);
        Chunk(ms, "IHDR", ihdr);
        Chunk(ms, "IDAT", [0x78, 0x9C, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01]);
        Chunk(ms, "IEND", []);
        return ms.ToArray();
    }

    static void Chunk(Stream s, string type, byte[] data)
    {
        var header = new byte[8];
        BinaryPrimitives.WriteInt32BigEndian(header, data.Length);
        Encoding.ASCII.GetBytes(type, header.AsSpan(4));
        s.Write(header);
        s.Write(data);
        uint crc = 0xFFFFFFFF;
        foreach (byte b in (byte[])[.. header[4..], .. data])
        {
            crc ^= b;
            for (int k = 0; k < 8; k++) crc = (crc & 1) != 0 ? (crc >> 1) ^ 0xEDB88320u : crc >> 1;
        }
        var end = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(end, ~crc);
        s.Write(end);
    }
}
