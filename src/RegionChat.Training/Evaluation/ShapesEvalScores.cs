using RegionChat.Training.Clip;
using RegionChat.Training.Llava;
using RegionChat.Data.Metrics;
using RegionChat.Data.Shapes;

namespace RegionChat.Training.Evaluation;

/// <summary>Correct out of total; <see cref="Value"/> is NaN when nothing was counted.</summary>
public sealed record ShapesEvalFraction(int Correct, int Total)
{
    public double Value => Total == 0 ? double.NaN : (double)Correct / Total;

    public override string ToString() => $"{Correct}/{Total}";
}

/// <summary>
/// The answer figures of an evaluation, scored from the greedy answers to <see cref="ShapesEvalAsk.For"/>:
/// <list type="bullet">
/// <item>region-caption exact match and CIDEr-D per region form (mask, box, whole image), one item per object;</item>
/// <item>QA accuracy per question type: colour, shape and size with the object's mask; count with the whole image.</item>
/// </list>
/// Exact match compares the trimmed answer with the expected text. CIDEr-D is the COCO scorer's (PTB-style tokens,
/// document frequencies from the references of the items of that region form, × 10), one reference per item, so it
/// lies in [0, 10]; 10 means every answer is its reference.
/// </summary>
public sealed class ShapesEvalScores
{
    public const string Color = "color", Shape = "shape", Size = "size", Count = "count";

    /// <summary>The QA question types in table order.</summary>
    public static IReadOnlyList<string> QaTypes { get; } = [Color, Shape, Size, Count];

    /// <summary>The region forms in table order.</summary>
    public static IReadOnlyList<RegionAlphaMode> RegionForms { get; } = [RegionAlphaMode.Mask, RegionAlphaMode.Box, RegionAlphaMode.Whole];

    ShapesEvalScores(IReadOnlyDictionary<RegionAlphaMode, ShapesEvalFraction> captionExact, IReadOnlyDictionary<RegionAlphaMode, double> ciderD,
        IReadOnlyDictionary<string, ShapesEvalFraction> qa)
    {
        CaptionExact = captionExact;
        CiderD = ciderD;
        Qa = qa;
    }

    public IReadOnlyDictionary<RegionAlphaMode, ShapesEvalFraction> CaptionExact { get; }

    /// <summary>CIDEr-D as the COCO scorer reports it (0..10 here; the paper prints it × 100).</summary>
    public IReadOnlyDictionary<RegionAlphaMode, double> CiderD { get; }

    public IReadOnlyDictionary<string, ShapesEvalFraction> Qa { get; }

    /// <summary>Scores the answers (same order as <paramref name="asks"/>) of the scenes.</summary>
    public static ShapesEvalScores Score(IReadOnlyList<ShapesScene> scenes, IReadOnlyList<ShapesEvalAsk> asks, IReadOnlyList<string> answers)
    {
        if (asks.Count != answers.Count) throw new ArgumentException($"{asks.Count} asks but {answers.Count} answers");
        var lookup = new Dictionary<ShapesEvalAsk, string>();
        for (int i = 0; i < asks.Count; i++)
            if (!lookup.TryAdd(asks[i], answers[i] ?? throw new ArgumentException($"answer {i} is missing")))
                throw new ArgumentException($"ask {asks[i]} appears twice");
        string Answer(int scene, int? obj, RegionAlphaMode mode, string question) =>
            lookup.TryGetValue(new ShapesEvalAsk(scene, obj, mode, question), out var a) ? a
                : throw new ArgumentException($"no answer to '{question}' about scene {scene}" + (obj is int o ? $" object {o} ({mode})" : ""));

        var exact = new Dictionary<RegionAlphaMode, ShapesEvalFraction>();
        var cider = new Dictionary<RegionAlphaMode, double>();
        foreach (var mode in RegionForms)
        {
            int correct = 0, total = 0;
            var items = new List<CaptionItem>();
            for (int s = 0; s < scenes.Count; s++)
                foreach (var o in scenes[s].Objects)
                {
                    string answer = mode == RegionAlphaMode.Whole
                        ? Answer(s, null, mode, ShapesText.DescribeRegion)
                        : Answer(s, o.Index, mode, ShapesText.DescribeRegion);
                    total++;
                    if (ShapesLlavaEvaluator.Matches(answer, o.Caption)) correct++;
                    items.Add(new CaptionItem($"{scenes[s].Seed}/{o.Index}", CaptionTokenizer.Tokenize(answer), [CaptionTokenizer.Tokenize(o.Caption)]));
                }
            exact[mode] = new(correct, total);
            cider[mode] = CaptionScorer.Score(items).CiderD;
        }

        var qa = QaTypes.ToDictionary(t => t, _ => (Correct: 0, Total: 0));
        void Tally(string type, bool ok) => qa[type] = (qa[type].Correct + (ok ? 1 : 0), qa[type].Total + 1);
        for (int s = 0; s < scenes.Count; s++)
        {
            var scene = scenes[s];
            Tally(Count, ShapesLlavaEvaluator.Matches(Answer(s, null, RegionAlphaMode.Whole, ShapesText.HowMany),
                ShapesText.CountWord(scene.Objects.Count)));
            foreach (var o in scene.Objects)
            {
                Tally(Color, ShapesLlavaEvaluator.Matches(Answer(s, o.Index, RegionAlphaMode.Mask, ShapesText.WhatColor), o.Color.Word()));
                Tally(Shape, ShapesLlavaEvaluator.Matches(Answer(s, o.Index, RegionAlphaMode.Mask, ShapesText.WhatShape), o.Shape.Word()));
                Tally(Size, ShapesLlavaEvaluator.Matches(Answer(s, o.Index, RegionAlphaMode.Mask, ShapesText.SmallOrLarge), o.Size.Word()));
            }
        }
        return new ShapesEvalScores(exact, cider, qa.ToDictionary(kv => kv.Key, kv => new ShapesEvalFraction(kv.Value.Correct, kv.Value.Total)));
    }
}
