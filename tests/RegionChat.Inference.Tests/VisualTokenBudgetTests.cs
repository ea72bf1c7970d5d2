using RegionChat.Data.Shapes;
using RegionChat.TestSupport;
using RegionChat.Vision.Regions;
using TorchSharp;

namespace RegionChat.Inference.Tests;

/// <summary>The visual-token budget on the real tiny model (TorchSharp tower, 4×4 patches, no CLS token): which rows are
/// kept, in which order, and that no budget is the plain encoding.</summary>
public class VisualTokenBudgetTests(TinyModelFixture fixture) : IClassFixture<TinyModelFixture>
{
    const int Grid = TinyModel.Resolution / TinyModel.Patch;

    /// <summary>The patches whose alpha is above 0 anywhere, counted here from the preprocessed alpha (not by the code
    /// under test).</summary>
    static HashSet<int> RegionPatches(float[] alpha)
    {
        var inside = new HashSet<int>();
        for (int y = 0; y < TinyModel.Resolution; y++)
            for (int x = 0; x < TinyModel.Resolution; x++)
                if (alpha[y * TinyModel.Resolution + x] > 0) inside.Add(y / TinyModel.Patch * Grid + x / TinyModel.Patch);
        return inside;
    }

    /// <summary>The tower's CLS attention per patch at the feature layer, for one image.</summary>
    float[] Scores(Vision.Imaging.PreprocessedImage input)
    {
        using var scope = torch.NewDisposeScope();
        int r = input.Resolution;
        var (_, attention) = fixture.Model.Vision.PatchFeaturesWithClsAttention(torch.tensor(input.PixelValues, [1, 3, r, r]),
            torch.tensor(input.Alpha, [1, 1, r, r]), fixture.Model.Manifest.Vision.FeatureLayer);
        return attention.data<float>().ToArray();
    }

    static float[] Row(VisualTokens t, int i) => t.Block.Row(i).ToArray();

    static void AssertClose(float[] expected, float[] actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++) Assert.True(Math.Abs(expected[i] - actual[i]) <= 1e-5f * (1 + Math.Abs(expected[i])),
            $"element {i}: {actual[i]} against {expected[i]}");
    }

    [Fact]
    public void TheRegionsPatchesComeFirstBestByClsAttentionThenTheBestOthersAllInTheirOriginalOrder()
    {
        var scene = ShapesGenerator.Generate(1_000_000_101);
        using var image = scene.ToImage();
        var region = new BoxRegion(0, 0, 20, 15);   // the top-left two patches
        var inside = RegionPatches(fixture.Model.Preprocess(image, region).Alpha);
        Assert.Equal([0, 1], inside.Order());
        var scores = Scores(fixture.Model.Preprocess(image, region));
        var full = fixture.Model.Encode(image, region);

        // Budget 5: both region patches, then the three best of the other 14 by score.
        var kept = fixture.Model.Encode(image, region, 5);
        Assert.Equal(5, kept.Count);
        var others = Enumerable.Range(0, Grid * Grid).Where(i => !inside.Contains(i)).OrderByDescending(i => scores[i]).Take(3);
        Assert.Equal(inside.Concat(others).Order(), kept.Kept!);
        // The kept rows are the full encoding's rows, in their original order (only they are projected, and a product of
        // fewer rows may round differently in the last bits).
        for (int k = 0; k < kept.Count; k++) AssertClose(Row(full, kept.Kept![k]), Row(kept, k));

        // Budget 1: only the better region patch, though patches outside may score higher.
        var one = fixture.Model.Encode(image, region, 1);
        Assert.Equal([scores[0] >= scores[1] ? 0 : 1], one.Kept!);
        AssertClose(Row(full, one.Kept![0]), Row(one, 0));
    }

    [Fact]
    public void BudgetZeroOrAtLeastTheTokenCountIsThePlainEncoding()
    {
        var scene = ShapesGenerator.Generate(1_000_000_102);
        using var image = scene.ToImage();
        var region = new BoxRegion(10, 10, 50, 40);
        var plain = fixture.Model.Encode(image, region).Block.Data.ToArray();
        foreach (int budget in new[] { 0, Grid * Grid, 1000 })
        {
            var tokens = fixture.Model.Encode(image, region, budget);
            Assert.Null(tokens.Kept);
            Assert.Equal(plain, tokens.Block.Data.ToArray());
        }
        Assert.Equal(Grid * Grid - 1, fixture.Model.Encode(image, region, Grid * Grid - 1).Count);
    }

    [Fact]
    public void TheTowerGivesTheSameFeaturesWithItsClsAttention()
    {
        using var scope = torch.NewDisposeScope();
        var scene = ShapesGenerator.Generate(1_000_000_103);
        using var image = scene.ToImage();
        var input = fixture.Model.Preprocess(image, new BoxRegion(5, 5, 30, 30));
        int r = input.Resolution;
        var pixels = torch.tensor(input.PixelValues, [1, 3, r, r]);
        var alpha = torch.tensor(input.Alpha, [1, 1, r, r]);
        var vision = fixture.Model.Vision;
        var plain = vision.PatchFeatures(pixels, alpha, -2, includeCls: true);
        var (features, attention) = vision.PatchFeaturesWithClsAttention(pixels, alpha, -2, includeCls: true);
        Assert.Equal(plain.data<float>().ToArray(), features.data<float>().ToArray());
        Assert.Equal([1L, Grid * Grid], attention.shape);
        var weights = attention.data<float>().ToArray();
        Assert.All(weights, w => Assert.InRange(w, 1e-9f, 1f));
        Assert.InRange(weights.Sum(), 0.01f, 0.9999f);   // CLS's weight on itself is left out
        Assert.True(weights.Max() > weights.Min(), "the scores do not tell patches apart");
    }

    [Theory]
    [InlineData(0L, false, true)]
    [InlineData(1L, false, true)]
    [InlineData(1L, true, false)]
    [InlineData(2L, true, true)]
    [InlineData(-1L, false, false)]
    [InlineData(VisualTokenSelection.MaxBudget, true, true)]
    [InlineData(VisualTokenSelection.MaxBudget + 1L, false, false)]
    public void ABudgetIsZeroOrKeepsAPatch(long budget, bool cls, bool valid)
    {
        string? problem = VisualTokenSelection.Check(budget, cls);
        Assert.Equal(valid, problem == null);
        if (!valid) Assert.Contains($"got {budget}", problem);
    }

    [Fact]
    public void SelectionTakesRegionPatchesFirstTiesByPositionAndKeepsTheOrder()
    {
        float[] scores = [0.9f, 0.1f, 0.5f, 0.5f, 0.8f, 0.2f];
        bool[] inside = [false, true, false, true, false, true];
        Assert.Equal([1, 3, 5], VisualTokenSelection.SelectPatches(scores, inside, 3));
        Assert.Equal([3, 5], VisualTokenSelection.SelectPatches(scores, inside, 2));
        Assert.Equal([0, 1, 3, 4, 5], VisualTokenSelection.SelectPatches(scores, inside, 5));
        Assert.Equal([0, 1, 2, 3, 4, 5], VisualTokenSelection.SelectPatches(scores, inside, 9));
        // Ties outside the region go to the earlier patch.
        Assert.Equal([0, 1, 3, 5], VisualTokenSelection.SelectPatches([0.5f, 0.1f, 0.5f, 0.5f, 0.5f, 0.2f], inside, 4));
        // With a CLS token, row 0 always stays and patch p is row p + 1.
        Assert.Equal([0, 4, 6], VisualTokenSelection.KeptRows(3, scores, inside, includesCls: true)!);
        Assert.Null(VisualTokenSelection.KeptRows(7, scores, inside, includesCls: true));
    }
}
