using System.Text.RegularExpressions;
using RegionChat.Data.Shapes;
using static RegionChat.Data.Tests.Shapes.SceneReference;

namespace RegionChat.Data.Tests.Shapes;

public class ShapesGeneratorTests
{
    // Seeds from all three splits, including the split boundaries.
    static IEnumerable<long> ManySeeds() =>
        Enumerable.Range(0, 700).Select(i => (long)i)
            .Concat(Enumerable.Range(0, 300).Select(i => 899_999_850L + i))
            .Concat(Enumerable.Range(0, 700).Select(i => 1_000_000_000L + i))
            .Concat([123_456_789_012L, long.MaxValue - 1]);

    static readonly List<ShapesScene> Scenes = ManySeeds().Select(ShapesGenerator.Generate).ToList();

    [Fact]
    public void Same_seed_gives_identical_scenes()
    {
        foreach (long seed in new long[] { 0, 17, 899_999_999, 1_000_000_000, 5_000_000_123 })
        {
            var a = ShapesGenerator.Generate(seed);
            var b = ShapesGenerator.Generate(seed);
            Assert.Equal(a.Pixels, b.Pixels);
            Assert.Equal(a.Caption, b.Caption);
            Assert.Equal(a.Objects.Count, b.Objects.Count);
            for (int i = 0; i < a.Objects.Count; i++)
            {
                Assert.Equal(a.Objects[i].Box, b.Objects[i].Box);
                Assert.Equal(a.Objects[i].VisibleMask, b.Objects[i].VisibleMask);
                Assert.Equal(a.Objects[i].Qa, b.Objects[i].Qa);
            }
        }
    }

    [Fact]
    public void Different_seeds_give_different_scenes()
    {
        var distinctImages = Scenes.Select(s => Convert.ToBase64String(s.Pixels)).Distinct().Count();
        Assert.Equal(Scenes.Count, distinctImages);
        var distinctLayouts = Scenes.Select(s => string.Join(";", s.Objects.Select(o => $"{o.Box}{o.Shape}{o.Color}"))).Distinct().Count();
        Assert.True(distinctLayouts > Scenes.Count * 0.99, $"only {distinctLayouts} distinct layouts of {Scenes.Count}");
    }

    [Fact]
    public void Scenes_hold_one_to_four_objects_and_every_count_occurs()
    {
        Assert.All(Scenes, s => Assert.InRange(s.Objects.Count, 1, 4));
        var counts = Scenes.GroupBy(s => s.Objects.Count).ToDictionary(g => g.Key, g => g.Count());
        for (int n = 1; n <= 4; n++) Assert.True(counts.GetValueOrDefault(n) > Scenes.Count / 10, $"{n} objects: {counts.GetValueOrDefault(n)}");
    }

    [Fact]
    public void Objects_are_square_boxes_of_their_size_class_inside_the_canvas()
    {
        foreach (var o in Scenes.SelectMany(s => s.Objects))
        {
            Assert.Equal(o.Box.Width, o.Box.Height);
            var (min, max) = o.Size == ShapeSize.Small ? (10, 14) : (20, 28);
            Assert.InRange(o.Box.Width, min, max);
            Assert.True(o.Box.X0 >= 0 && o.Box.Y0 >= 0 && o.Box.X1 <= N && o.Box.Y1 <= N, $"box {o.Box}");
        }
        var all = Scenes.SelectMany(s => s.Objects).ToList();
        Assert.Equal(Enum.GetValues<ShapeKind>().Length, all.Select(o => o.Shape).Distinct().Count());
        Assert.Equal(Enum.GetValues<ShapeColor>().Length, all.Select(o => o.Color).Distinct().Count());
        Assert.Equal(2, all.Select(o => o.Size).Distinct().Count());
        Assert.Equal(new[] { 10, 11, 12, 13, 14, 20, 21, 22, 23, 24, 25, 26, 27, 28 },
            all.Select(o => o.Box.Width).Distinct().Order());
    }

    [Fact]
    public void Shape_masks_follow_pixel_centre_sampling_of_the_shape_definitions()
    {
        foreach (var o in Scenes.Take(400).SelectMany(s => s.Objects))
            Assert.Equal(Mask(o.Shape, o.Box), o.ShapeMask);
    }

    [Fact]
    public void Each_object_overlaps_earlier_objects_by_at_most_a_fifth_of_its_area()
    {
        foreach (var s in Scenes)
        {
            var earlier = new byte[N * N];
            foreach (var o in s.Objects)
            {
                int overlap = 0;
                for (int p = 0; p < N * N; p++) overlap += o.ShapeMask[p] & earlier[p];
                Assert.True(overlap * 5 <= o.Area, $"seed {s.Seed} object {o.Index}: overlap {overlap} of area {o.Area}");
                for (int p = 0; p < N * N; p++) earlier[p] |= o.ShapeMask[p];
            }
        }
        // the rule is exercised, not vacuous: some objects do overlap
        Assert.Contains(Scenes.SelectMany(s => s.Objects), o => o.VisibleArea < o.Area);
    }

    [Fact]
    public void Visible_masks_are_the_shape_minus_later_shapes_disjoint_and_at_least_half_the_area()
    {
        foreach (var s in Scenes)
        {
            var owner = new int[N * N];
            Array.Fill(owner, -1);
            foreach (var o in s.Objects)
                for (int p = 0; p < N * N; p++)
                    if (o.ShapeMask[p] == 1) owner[p] = o.Index;   // later objects overwrite
            var seen = new byte[N * N];
            foreach (var o in s.Objects)
            {
                var expected = owner.Select(i => i == o.Index ? (byte)1 : (byte)0).ToArray();
                Assert.Equal(expected, o.VisibleMask);
                int clash = 0;
                for (int p = 0; p < N * N; p++)
                {
                    clash += o.VisibleMask[p] & seen[p];
                    seen[p] |= o.VisibleMask[p];
                }
                Assert.True(clash == 0, $"seed {s.Seed}: visible mask {o.Index} overlaps an earlier one on {clash} px");
                Assert.Equal(Count(o.VisibleMask), o.VisibleArea);
                Assert.Equal(Count(o.ShapeMask), o.Area);
                Assert.True(o.VisibleArea > 0 && o.VisibleArea * 2 >= o.Area, $"seed {s.Seed} object {o.Index}: {o.VisibleArea}/{o.Area}");
            }
        }
    }

    [Fact]
    public void Pixels_are_base_colour_plus_bounded_noise_and_the_statistics_match_the_spec()
    {
        var colorSums = new Dictionary<ShapeColor, (double Sum, double SumSq, long N)>();
        double bgSum = 0, bgSumSq = 0;
        long bgN = 0;
        int bgMin = 0, bgMax = 0, objMin = 0, objMax = 0;
        foreach (var s in Scenes)
        {
            Assert.InRange(s.BackgroundGrey, 90, 160);
            Assert.Equal(N * N * 3, s.Pixels.Length);
            var ownerColor = new ShapeColor?[N * N];
            foreach (var o in s.Objects)
                for (int p = 0; p < N * N; p++)
                    if (o.VisibleMask[p] == 1) ownerColor[p] = o.Color;
            for (int p = 0; p < N * N; p++)
            {
                int[] rgb = [s.Pixels[3 * p], s.Pixels[3 * p + 1], s.Pixels[3 * p + 2]];
                if (ownerColor[p] is { } color)
                {
                    var (r, g, b) = Colors[color];
                    int[] baseRgb = [r, g, b];
                    var acc = colorSums.GetValueOrDefault(color);
                    for (int c = 0; c < 3; c++)
                    {
                        int d = rgb[c] - baseRgb[c];
                        (objMin, objMax) = (Math.Min(objMin, d), Math.Max(objMax, d));
                        acc = (acc.Sum + d, acc.SumSq + d * d, acc.N + 1);
                    }
                    colorSums[color] = acc;
                }
                else
                {
                    for (int c = 0; c < 3; c++)
                    {
                        int d = rgb[c] - s.BackgroundGrey;
                        (bgMin, bgMax) = (Math.Min(bgMin, d), Math.Max(bgMax, d));
                        bgSum += d;
                        bgSumSq += d * d;
                        bgN++;
                    }
                }
            }
        }
        // noise reaches exactly ±12 on the background and ±10 on objects (no base colour is near enough to 0/255 to clamp)
        Assert.Equal((-12, 12), (bgMin, bgMax));
        Assert.Equal((-10, 10), (objMin, objMax));
        // uniform integers in [-k, k]: mean 0, variance k(k+1)/3
        Assert.InRange(bgSum / bgN, -0.05, 0.05);
        Assert.InRange(bgSumSq / bgN, 52 - 0.5, 52 + 0.5);
        foreach (var (color, (sum, sumSq, n)) in colorSums)
        {
            Assert.True(n > 20_000, $"{color}: only {n} samples");
            Assert.InRange(sum / n, -0.2, 0.2);
            Assert.InRange(sumSq / n, 110.0 / 3 - 1.5, 110.0 / 3 + 1.5);
        }
        Assert.Equal(6, colorSums.Count);
        var greys = Scenes.Select(s => s.BackgroundGrey).ToList();
        Assert.True(greys.Min() <= 92 && greys.Max() >= 158, $"grey range seen {greys.Min()}..{greys.Max()}");
    }

    static readonly Regex RegionCaption = new(@"^a (small|large) (red|green|blue|yellow|purple|orange) (circle|square|triangle|diamond|cross)$");

    [Fact]
    public void Region_text_follows_the_exact_forms()
    {
        foreach (var o in Scenes.SelectMany(s => s.Objects))
        {
            string expected = $"a {o.Size.ToString().ToLowerInvariant()} {o.Color.ToString().ToLowerInvariant()} {o.Shape.ToString().ToLowerInvariant()}";
            Assert.Equal(expected, o.Caption);
            Assert.Matches(RegionCaption, o.Caption);
            Assert.Equal(
                new[]
                {
                    new ShapesQa("describe this region", expected),
                    new ShapesQa("what color is it?", o.Color.ToString().ToLowerInvariant()),
                    new ShapesQa("what shape is it?", o.Shape.ToString().ToLowerInvariant()),
                    new ShapesQa("is it small or large?", o.Size.ToString().ToLowerInvariant()),
                },
                o.Qa);
        }
    }

    [Fact]
    public void Whole_image_text_lists_objects_left_to_right()
    {
        string[] numbers = ["one", "two", "three", "four"];
        foreach (var s in Scenes)
        {
            var ordered = s.Objects
                .OrderBy(o => (o.Box.X0 + o.Box.X1) / 2.0).ThenBy(o => (o.Box.Y0 + o.Box.Y1) / 2.0).ThenBy(o => o.Index)
                .Select(o => o.Caption).ToList();
            string expected = ordered.Count == 1 ? ordered[0] : string.Join(" ", ordered.SkipLast(1)) + " and " + ordered[^1];
            Assert.Equal(expected, s.Caption);
            Assert.Equal(ordered, s.ObjectsLeftToRight.Select(o => o.Caption));
            Assert.Matches(@"^[a-z]+( [a-z]+)*$", s.Caption);
            Assert.DoesNotContain("  ", s.Caption);
            Assert.Equal(new[] { new ShapesQa("describe the image", expected), new ShapesQa("how many objects are there?", numbers[s.Objects.Count - 1]) }, s.Qa);
        }
    }

    [Fact]
    public void Split_checked_generation_rejects_seeds_of_other_splits()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => ShapesGenerator.Generate(ShapesSplit.Train, 1_000_000_000));
        Assert.Throws<ArgumentOutOfRangeException>(() => ShapesGenerator.Generate(ShapesSplit.Train, 900_000_000));
        Assert.Throws<ArgumentOutOfRangeException>(() => ShapesGenerator.Generate(ShapesSplit.Validation, 1_000_000_000));
        Assert.Throws<ArgumentOutOfRangeException>(() => ShapesGenerator.Generate(ShapesSplit.Test, 999_999_999));
        Assert.Throws<ArgumentOutOfRangeException>(() => ShapesGenerator.Generate(-1));
        Assert.Throws<ArgumentOutOfRangeException>(() => ShapesGenerator.Generate(long.MaxValue));
        Assert.Equal(ShapesGenerator.Generate(1_000_000_000).Pixels, ShapesGenerator.Generate(ShapesSplit.Test, 1_000_000_000).Pixels);
        Assert.Equal(ShapesGenerator.Generate(899_999_999).Pixels, ShapesGenerator.Generate(ShapesSplit.Train, 899_999_999).Pixels);
    }

    [Fact]
    public void GenerateMany_yields_consecutive_seeds_and_checks_the_range()
    {
        Assert.Equal(new long[] { 10, 11, 12 }, ShapesGenerator.GenerateMany(10, 3).Select(s => s.Seed));
        Assert.Throws<ArgumentOutOfRangeException>(() => ShapesGenerator.GenerateMany(long.MaxValue - 2, 5));
        Assert.Throws<ArgumentOutOfRangeException>(() => ShapesGenerator.GenerateMany(0, -1));
    }
}
