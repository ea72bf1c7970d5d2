using CsCheck;
using RegionChat.Data.Regions;
using RegionChat.Vision.Regions;

namespace RegionChat.Vision.Tests.Fuzz;

/// <summary>Random region descriptions (extreme and non-finite coordinates, huge widths, deep and wide unions, RLE of
/// the wrong size) drawn on random small images: each draws a mask of the image's size or is refused with an
/// <see cref="InvalidRegionException"/>, and what the budget refuses is refused before drawing. A failure prints the
/// shrunk input and the seed that replays it.</summary>
public class RegionDrawingProperties
{
    static readonly RegionBudget Budget = new() { MaxPoints = 200, MaxScribbleCost = 20_000, MaxUnionParts = 6, MaxUnionDepth = 3 };

    static readonly Gen<double> Coordinate = Gen.Frequency(
        (8, Gen.Double[-20, 80]),
        (1, Gen.OneOf(double.NaN, double.PositiveInfinity, double.NegativeInfinity, 1e300, -1e300, double.Epsilon, -0.0, 1e15)),
        (1, Gen.Double));

    static readonly Gen<(double X, double Y)> Point = Gen.Select(Coordinate, Coordinate);

    static readonly Gen<RegionDescription> Plain = Gen.OneOf<RegionDescription>(
        Gen.Select(Coordinate, Coordinate, Coordinate, Coordinate, Gen.Bool).Select(t =>
            (RegionDescription)new RegionDescription.Box(t.Item1, t.Item2, t.Item3, t.Item4, t.Item5)),
        Gen.Select(Point.Array[0, 300], Gen.Bool).Select(t => (RegionDescription)new RegionDescription.Polygon(t.Item1, t.Item2)),
        Gen.Select(Point.Array[0, 300], Gen.Frequency((6, Gen.Double[0, 40]), (1, Gen.OneOf(double.NaN, 1e9, -1.0, 0.0))))
            .Select(t => (RegionDescription)new RegionDescription.Scribble(t.Item1, t.Item2)),
        Gen.Select(Gen.Int[1, 12], Gen.Int[1, 12], Gen.Long[0, 40].Array[0, 12])
            .Select(t => (RegionDescription)new RegionDescription.Rle(t.Item1, t.Item2, null, t.Item3)),
        Gen.Const<RegionDescription>(RegionDescription.Whole.Instance));

    static readonly Gen<RegionDescription> Any = Gen.Recursive<RegionDescription>((depth, region) => depth >= 5 ? Plain
        : Gen.Frequency((4, Plain), (1, region.Array[0, 9].Select(parts => (RegionDescription)new RegionDescription.Union(parts)))));

    [Fact]
    public void AnyRegionDrawsAMaskOfTheImageOrIsRefused()
    {
        Gen.Select(Any, Gen.Int[1, 64], Gen.Int[1, 64]).Sample((description, width, height) =>
        {
            RegionMask mask;
            try
            {
                mask = Region.From(description, budget: Budget).Rasterize(width, height);
            }
            catch (InvalidRegionException e)
            {
                Assert.False(string.IsNullOrEmpty(e.Field));
                return;
            }
            Assert.Equal(width, mask.Width);
            Assert.Equal(height, mask.Height);
            Assert.False(mask.IsEmpty);
            Assert.InRange(mask.Area(), 1, (long)width * height);
        }, iter: 3000, threads: 1);
    }

    [Fact]
    public void WhatTheBudgetRefusesIsRefusedBeforeDrawing()
    {
        // Regions only a little over the budget: the refusal comes from the budget, naming it, not from the drawing.
        var over = Gen.OneOf<RegionDescription>(
            Point.Array[Budget.MaxPoints + 1, Budget.MaxPoints + 50].Select(p => (RegionDescription)new RegionDescription.Polygon(p)),
            Gen.Double[Budget.MaxScribbleCost / 2 + 1, 1e6].Select(w =>
                (RegionDescription)new RegionDescription.Scribble([(1, 1), (5, 5)], w)),
            Plain.Array[Budget.MaxUnionParts + 1, Budget.MaxUnionParts + 5].Select(parts => (RegionDescription)new RegionDescription.Union(parts)));
        over.Sample(description =>
        {
            var e = Assert.Throws<InvalidRegionException>(() => Region.From(description, budget: Budget));
            Assert.Equal(InvalidRegionReason.OverBudget, e.Reason);
        }, iter: 300, threads: 1);
    }
}
