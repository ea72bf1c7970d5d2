using System.Text.Json.Nodes;

namespace RegionChat.Training.Clip;

/// <summary>Zero-shot region classification results of one alpha mode: exact class top-1 and per-attribute hits.</summary>
public sealed record ZeroShotModeResult(RegionAlphaMode Mode, int Regions, int Correct, int SizeCorrect, int ColorCorrect, int ShapeCorrect)
{
    /// <summary>Fraction of regions whose (size, colour, shape) class is the top-1 of the 60 prompts.</summary>
    public double Top1 => Regions == 0 ? 0 : (double)Correct / Regions;
    public double SizeAccuracy => Regions == 0 ? 0 : (double)SizeCorrect / Regions;
    public double ColorAccuracy => Regions == 0 ? 0 : (double)ColorCorrect / Regions;
    public double ShapeAccuracy => Regions == 0 ? 0 : (double)ShapeCorrect / Regions;
}

/// <summary>
/// How far apart the text tower puts the 60 prompts: the mean cosine similarity of prompt pairs that differ in one
/// attribute only, and the highest cosine of any two different prompts. Values near 1 mean the text tower cannot tell
/// those classes apart, which caps stage 2 (its text tower is frozen).
/// </summary>
public sealed record PromptSimilarity(double SizeOnly, double ColorOnly, double ShapeOnly, double Max);

/// <summary>Zero-shot region classification over the scenes of seeds FirstSeed .. FirstSeed+Scenes−1 (the paper's Table 2 in miniature).</summary>
public sealed record ZeroShotReport(long FirstSeed, int Scenes, int Regions, IReadOnlyList<ZeroShotModeResult> Results,
    PromptSimilarity Prompts)
{
    public ZeroShotModeResult this[RegionAlphaMode mode] =>
        Results.FirstOrDefault(r => r.Mode == mode) ?? throw new KeyNotFoundException($"mode {mode} was not evaluated");

    public JsonObject ToJson()
    {
        var json = new JsonObject
        {
            ["first_seed"] = FirstSeed, ["scenes"] = Scenes, ["regions"] = Regions,
            ["prompt_cosine"] = new JsonObject
            {
                ["size_only"] = Math.Round(Prompts.SizeOnly, 6), ["color_only"] = Math.Round(Prompts.ColorOnly, 6),
                ["shape_only"] = Math.Round(Prompts.ShapeOnly, 6), ["max"] = Math.Round(Prompts.Max, 6),
            },
        };
        foreach (var r in Results)
            json[r.Mode.ToString().ToLowerInvariant()] = new JsonObject
            {
                ["top1"] = Math.Round(r.Top1, 6), ["size"] = Math.Round(r.SizeAccuracy, 6),
                ["color"] = Math.Round(r.ColorAccuracy, 6), ["shape"] = Math.Round(r.ShapeAccuracy, 6), ["correct"] = r.Correct,
            };
        return json;
    }

    /// <summary>"whole 12.3% box 45.6% mask 78.9%".</summary>
    public string Summary() => string.Join(' ', Results.Select(r => $"{r.Mode.ToString().ToLowerInvariant()} {r.Top1:P1}"));
}
