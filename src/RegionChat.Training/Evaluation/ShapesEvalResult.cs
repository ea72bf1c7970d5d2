using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using RegionChat.Training.Clip;
using RegionChat.Data.Shapes;

namespace RegionChat.Training.Evaluation;

/// <summary>Where the time of an evaluation went, and how much the LLM generated. GenerateSeconds is the answer phase's
/// wall time, vision included; EncodeSeconds sums each request's own image decode and encode, which overlap when the
/// encodes are batched, so it can exceed that wall time.</summary>
public sealed record ShapesEvalTimings(double Seconds, double EncodeSeconds, double GenerateSeconds, double ZeroShotSeconds,
    int Generations, long PromptTokens, long CompletionTokens);

/// <summary>
/// The result of `regionchat eval shapes`: answer scores, zero-shot figures, every generation with its answer, and timings.
/// <see cref="ToJson"/> is the issue's object of fractions in [0, 1] (CIDEr-D divided by 10, its maximum with one
/// reference); <see cref="Table"/> is the human table (CIDEr-D as the COCO scorer reports it).
/// </summary>
public sealed record ShapesEvalResult(string Model, long FirstSeed, IReadOnlyList<ShapesScene> Scenes, ShapesEvalScores Scores,
    ShapesZeroShotFigures ZeroShot, IReadOnlyList<ShapesEvalAsk> Asks, IReadOnlyList<string> Answers, ShapesEvalTimings Timings)
{
    /// <summary>CIDEr-D of an answer equal to its single reference: the JSON divides by it to give a fraction.</summary>
    public const double CiderDMaximum = 10.0;

    public int Regions => Scenes.Sum(s => s.Objects.Count);

    /// <summary>The chat figures (conversations on one session; see <see cref="ShapesChatEval"/>); null: not measured.</summary>
    public ShapesChatScores? Chat { get; init; }

    /// <summary>The visual-token budget every generation ran with (0 = all tokens).</summary>
    public int VisualTokenBudget { get; init; }

    /// <summary>Visual tokens injected per caption and QA generation, on average (the budget's effect).</summary>
    public double VisualTokensPerImage { get; init; }

    /// <summary>
    /// {"caption_exact": {"mask","box","whole"}, "cider": {"mask","box","whole"}, "qa": {"color","shape","size","count"},
    /// "zero_shot": {"clip_whole","alpha_whole","alpha_box","alpha_mask"}, "multi_turn": {"later_region_exact","followup",
    /// "relation","relation_yes_share","new_image","conversations"}} (fractions; null = not measured), plus
    /// "model", "scenes", "seed", "regions", "generations" and "seconds".
    /// </summary>
    public JsonObject ToJson()
    {
        var exact = new JsonObject();
        var cider = new JsonObject();
        foreach (var mode in ShapesEvalScores.RegionForms)
        {
            exact[Key(mode)] = Fraction(Scores.CaptionExact[mode].Value);
            cider[Key(mode)] = Fraction(Scores.CiderD[mode] / CiderDMaximum);
        }
        var qa = new JsonObject();
        foreach (var type in ShapesEvalScores.QaTypes) qa[type] = Fraction(Scores.Qa[type].Value);
        return new JsonObject
        {
            ["caption_exact"] = exact,
            ["cider"] = cider,
            ["qa"] = qa,
            ["zero_shot"] = new JsonObject
            {
                ["clip_whole"] = Fraction(ZeroShot.ClipWhole?.Value),
                ["alpha_whole"] = Fraction(ZeroShot.AlphaWhole?.Value),
                ["alpha_box"] = Fraction(ZeroShot.AlphaBox?.Value),
                ["alpha_mask"] = Fraction(ZeroShot.AlphaMask?.Value),
            },
            ["multi_turn"] = Chat?.ToJson(),
            ["model"] = Model,
            ["scenes"] = Scenes.Count,
            ["seed"] = FirstSeed,
            ["regions"] = Regions,
            ["generations"] = Timings.Generations,
            ["visual_token_budget"] = VisualTokenBudget,
            ["visual_tokens"] = Math.Round(VisualTokensPerImage, 2),
            ["seconds"] = Math.Round(Timings.Seconds, 1),
        };
    }

    /// <summary>Every generation as a JSON record: seed, object (null: whole image), region, question, answer and
    /// expected (for the whole-image "describe this region", every object's caption, any of which counts once).</summary>
    public IEnumerable<JsonObject> AnswerRecords()
    {
        for (int i = 0; i < Asks.Count; i++)
        {
            var a = Asks[i];
            var scene = Scenes[a.SceneIndex];
            JsonNode? expected = a.ObjectIndex is int o
                ? scene.Objects[o].Qa.Single(q => q.Question == a.Question).Answer
                : a.Question == ShapesText.DescribeRegion
                    ? new JsonArray(scene.Objects.Select(x => (JsonNode)x.Caption).ToArray())
                    : scene.Qa.Single(q => q.Question == a.Question).Answer;
            yield return new JsonObject
            {
                ["seed"] = scene.Seed, ["object"] = a.ObjectIndex, ["region"] = Key(a.Mode), ["question"] = a.Question,
                ["answer"] = Answers[i], ["expected"] = expected,
            };
        }
    }

    /// <summary>The human table (Markdown, so it can be pasted into a README as is).</summary>
    public string Table()
    {
        var c = CultureInfo.InvariantCulture;
        var t = new StringBuilder();
        string split = ShapesSeeds.SplitOf(FirstSeed).ToString().ToLowerInvariant();
        t.AppendLine(string.Create(c, $"eval shapes: {Model}"));
        t.AppendLine(string.Create(c,
            $"{Scenes.Count} {split} scenes (seeds {FirstSeed}..{FirstSeed + Scenes.Count - 1}), {Regions} regions; greedy answers through llama.cpp"));
        t.AppendLine(string.Create(c, $"visual tokens per image: {VisualTokensPerImage:0.##}") + (VisualTokenBudget > 0
            ? string.Create(c, $" (budget {VisualTokenBudget}; zero-shot uses the pooled CLS output and is unaffected)") : " (all)"));
        t.AppendLine();
        t.AppendLine("| Region given as | Caption exact match | Caption CIDEr-D | Zero-shot top-1, Alpha-CLIP |");
        t.AppendLine("|---|---|---|---|");
        foreach (var mode in ShapesEvalScores.RegionForms)
        {
            var zs = mode switch { RegionAlphaMode.Mask => ZeroShot.AlphaMask, RegionAlphaMode.Box => ZeroShot.AlphaBox, _ => ZeroShot.AlphaWhole };
            t.AppendLine(string.Create(c,
                $"| {Name(mode)} | {Percent(Scores.CaptionExact[mode])} | {Scores.CiderD[mode]:F3} | {Percent(zs, ZeroShot.AlphaNote)} |"));
        }
        t.AppendLine(string.Create(c, $"| whole image, plain CLIP (stage 1) | | | {Percent(ZeroShot.ClipWhole, ZeroShot.ClipNote)} |"));
        t.AppendLine();
        t.AppendLine("| QA | colour (mask) | shape (mask) | size (mask) | count (whole image) |");
        t.AppendLine("|---|---|---|---|---|");
        t.AppendLine($"| accuracy | {string.Join(" | ", ShapesEvalScores.QaTypes.Select(q => Percent(Scores.Qa[q])))} |");
        t.AppendLine();
        if (Chat is not null)
        {
            t.AppendLine(Chat.Table());
            t.AppendLine();
        }
        t.AppendLine("Whole image: \"describe this region\" with the whole image as the region is one prompt per scene; its answer is");
        t.AppendLine("scored against every object's caption, so at most one object per scene can match. CIDEr-D: COCO scorer, 0..10");
        t.AppendLine("(10 = every answer equals its caption; --json gives it divided by 10). Zero-shot: 60 prompts \"a {size} {color} {shape}\".");
        t.Append(string.Create(c, $"{Timings.Generations} generations ({Timings.PromptTokens} prompt + {Timings.CompletionTokens} generated positions); ") +
                 string.Create(c, $"answers {Timings.GenerateSeconds:F1} s (their vision encodes {Timings.EncodeSeconds:F1} s, summed over " +
                     $"requests: batched encodes overlap), zero-shot {Timings.ZeroShotSeconds:F1} s; " +
                     $"total {Timings.Seconds:F1} s"));
        return t.ToString();
    }

    static string Key(RegionAlphaMode mode) => mode.ToString().ToLowerInvariant();

    static string Name(RegionAlphaMode mode) => mode switch
    {
        RegionAlphaMode.Mask => "mask",
        RegionAlphaMode.Box => "box",
        _ => "whole image",
    };

    static string Percent(ShapesEvalFraction? f, string? note = null) =>
        f is null ? $"n/a ({note ?? "not measured"})" : string.Create(CultureInfo.InvariantCulture, $"{f.Value:P1} ({f})");

    static JsonNode? Fraction(double? value) =>
        value is double v && double.IsFinite(v) ? JsonValue.Create(Math.Round(v, 6)) : null;
}
