using RegionChat.Data.Shapes.Internal;

namespace RegionChat.Data.Shapes;

/// <summary>
/// Draws a scene from a seed. A seed names the same scene forever (own PRNG, exact integer rasterisation). Stateless and
/// thread-safe, so trainers may generate in parallel. SPEC.md beside this file states the full rules.
/// <para>Order of draws (layout stream, see ShapesRandom): background grey in [90,160]; object count in [1,4]; then per
/// object shape, colour, size class, side, and up to <see cref="ShapesSpec.PlacementTries"/> placements (x0, y0 each
/// uniform in [0, 64-side]). The first placement that passes both rules wins; with none the object is dropped.</para>
/// <para>Placement rules for a candidate with shape pixels M and area A:
/// (1) overlap: |M ∩ (shape pixels of all earlier objects)| ≤ A/5;
/// (2) visibility: every earlier object j keeps |visible_j \ M| ≥ area_j/2 (visible_j = its pixels not covered by
/// objects placed after it so far). The first object always fits, so a scene has at least one object.</para>
/// <para>Pixels (noise stream): the background row-major, R G B each base grey + uniform [-12,12]; then each object in
/// draw order, its shape pixels row-major, R G B each base colour + uniform [-10,10]; all clamped to 0..255.</para>
/// </summary>
public static class ShapesGenerator
{
    const int N = ShapesSpec.CanvasSize;

    /// <summary>The scene of any seed in [0, long.MaxValue).</summary>
    public static ShapesScene Generate(long seed)
    {
        ShapesSeeds.SplitOf(seed); // range check with a clear message
        var (layout, noise) = ShapesRandom.ForScene(seed);

        int grey = layout.NextInt(ShapesSpec.BackgroundGreyMin, ShapesSpec.BackgroundGreyMax);
        int target = layout.NextInt(ShapesSpec.MinObjects, ShapesSpec.MaxObjects);

        var placed = new List<Placement>(target);
        var occupied = new byte[ShapesSpec.PixelCount];
        for (int i = 0; i < target; i++)
        {
            var shape = (ShapeKind)layout.NextInt(0, ShapeWords.AllShapes.Count - 1);
            var color = (ShapeColor)layout.NextInt(0, ShapeWords.AllColors.Count - 1);
            var size = (ShapeSize)layout.NextInt(0, ShapeWords.AllSizes.Count - 1);
            var (minSide, maxSide) = ShapesSpec.SideRange(size);
            int side = layout.NextInt(minSide, maxSide);
            for (int attempt = 0; attempt < ShapesSpec.PlacementTries; attempt++)
            {
                int x0 = layout.NextInt(0, N - side), y0 = layout.NextInt(0, N - side);
                var box = new PixelBox(x0, y0, x0 + side, y0 + side);
                if (!Fits(shape, box, occupied, placed)) continue;
                var mask = ShapeRaster.Rasterise(shape, box);
                for (int p = 0; p < mask.Length; p++)
                {
                    if (mask[p] == 0) continue;
                    occupied[p] = 1;
                    foreach (var earlier in placed)
                    {
                        earlier.VisibleCount -= earlier.Visible[p];
                        earlier.Visible[p] = 0;
                    }
                }
                int area = Count(mask);
                placed.Add(new Placement(shape, color, size, box, mask, (byte[])mask.Clone(), area) { VisibleCount = area });
                break;
            }
        }

        var pixels = Paint(grey, placed, noise);
        var objects = placed
            .Select((o, i) => new ShapesObject(i, o.Shape, o.Color, o.Size, o.Box, o.Mask, o.Visible))
            .ToArray();
        return new ShapesScene(seed, grey, pixels, objects);
    }

    /// <summary>The scene of a seed, checking that the seed belongs to the split (a train seed ≥ 1e9 is rejected).</summary>
    public static ShapesScene Generate(ShapesSplit split, long seed)
    {
        ShapesSeeds.Require(split, seed);
        return Generate(seed);
    }

    /// <summary>Scenes of the seeds first, first+1, … (count of them), lazily.</summary>
    public static IEnumerable<ShapesScene> GenerateMany(long first, int count)
    {
        if (count < 0) throw new ArgumentOutOfRangeException(nameof(count), count, "count must not be negative");
        if (count > 0) ShapesSeeds.SplitOf(first + (count - 1)); // last seed in range (no overflow: both checked)
        ShapesSeeds.SplitOf(first);
        return Lazy(first, count);

        static IEnumerable<ShapesScene> Lazy(long first, int count)
        {
            for (int i = 0; i < count; i++) yield return Generate(first + i);
        }
    }

    /// <summary>
    /// The scene with one object's shape replaced, everything else kept: background, noise, colours, sizes and boxes (the
    /// new shape is rasterised in the old box, later objects still cover earlier ones). Training uses such counterfactual
    /// siblings, which differ only in one shape, so that contrastive learning must tell shapes apart. The variant keeps
    /// the seed of its source but is not that seed's scene: it never enters validation or test data.
    /// </summary>
    public static ShapesScene WithShape(ShapesScene scene, int objectIndex, ShapeKind shape)
    {
        ArgumentNullException.ThrowIfNull(scene);
        ArgumentOutOfRangeException.ThrowIfNegative(objectIndex);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(objectIndex, scene.Objects.Count);
        var placed = new List<Placement>(scene.Objects.Count);
        foreach (var o in scene.Objects.OrderBy(o => o.Index))
        {
            var kind = o.Index == objectIndex ? shape : o.Shape;
            var mask = ShapeRaster.Rasterise(kind, o.Box);
            for (int p = 0; p < mask.Length; p++)
                if (mask[p] != 0)
                    foreach (var earlier in placed) earlier.Visible[p] = 0;
            placed.Add(new Placement(kind, o.Color, o.Size, o.Box, mask, (byte[])mask.Clone(), Count(mask)));
        }
        var (_, noise) = ShapesRandom.ForScene(scene.Seed);
        var pixels = Paint(scene.BackgroundGrey, placed, noise);
        var objects = placed.Select((o, i) => new ShapesObject(i, o.Shape, o.Color, o.Size, o.Box, o.Mask, o.Visible)).ToArray();
        return new ShapesScene(scene.Seed, scene.BackgroundGrey, pixels, objects);
    }

    sealed record Placement(ShapeKind Shape, ShapeColor Color, ShapeSize Size, PixelBox Box, byte[] Mask,
        byte[] Visible, int Area)
    {
        public int VisibleCount { get; set; }
    }

    static bool Fits(ShapeKind shape, PixelBox box, byte[] occupied, List<Placement> placed)
    {
        int area = 0, overlap = 0;
        Span<int> covered = stackalloc int[ShapesSpec.MaxObjects];
        for (int y = box.Y0; y < box.Y1; y++)
            for (int x = box.X0; x < box.X1; x++)
            {
                if (!ShapeRaster.Contains(shape, box.Width, x - box.X0, y - box.Y0)) continue;
                int p = y * N + x;
                area++;
                overlap += occupied[p];
                for (int j = 0; j < placed.Count; j++) covered[j] += placed[j].Visible[p];
            }
        if (overlap * ShapesSpec.MaxOverlapDenominator > area * ShapesSpec.MaxOverlapNumerator) return false;
        for (int j = 0; j < placed.Count; j++)
        {
            int keeps = placed[j].VisibleCount - covered[j];
            if (keeps * ShapesSpec.MinVisibleDenominator < placed[j].Area * ShapesSpec.MinVisibleNumerator) return false;
        }
        return true;
    }

    static byte[] Paint(int grey, List<Placement> placed, ShapesRandom noise)
    {
        var pixels = new byte[ShapesSpec.PixelCount * 3];
        for (int i = 0; i < pixels.Length; i++)
            pixels[i] = Clamp(grey + noise.NextInt(-ShapesSpec.BackgroundNoise, ShapesSpec.BackgroundNoise));
        foreach (var o in placed)
        {
            var (r, g, b) = ShapesSpec.BaseColor(o.Color);
            for (int p = 0; p < o.Mask.Length; p++)
            {
                if (o.Mask[p] == 0) continue;
                pixels[3 * p] = Clamp(r + noise.NextInt(-ShapesSpec.ObjectNoise, ShapesSpec.ObjectNoise));
                pixels[3 * p + 1] = Clamp(g + noise.NextInt(-ShapesSpec.ObjectNoise, ShapesSpec.ObjectNoise));
                pixels[3 * p + 2] = Clamp(b + noise.NextInt(-ShapesSpec.ObjectNoise, ShapesSpec.ObjectNoise));
            }
        }
        return pixels;
    }

    static byte Clamp(int v) => (byte)Math.Clamp(v, 0, 255);

    static int Count(byte[] mask)
    {
        int n = 0;
        foreach (byte b in mask) n += b;
        return n;
    }
}
