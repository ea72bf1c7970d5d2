using System.Text.Json.Nodes;
using RegionChat.Training.Clip;
using RegionChat.Data.Shapes;

namespace RegionChat.Training.Llava;

/// <summary>Exact-match accuracy of answers by alpha mode and question.</summary>
public sealed class ShapesEvalReport
{
    readonly Dictionary<(RegionAlphaMode Mode, string Question), (int Correct, int Total)> cells = [];
    readonly List<(LlavaSample Sample, string Answer)> misses = [];

    internal ShapesEvalReport(long firstSeed, int scenes, IReadOnlyList<LlavaSample> samples, IReadOnlyList<string> answers)
    {
        if (samples.Count != answers.Count) throw new ArgumentException($"{samples.Count} samples but {answers.Count} answers");
        FirstSeed = firstSeed;
        Scenes = scenes;
        for (int i = 0; i < samples.Count; i++)
        {
            bool ok = ShapesLlavaEvaluator.Matches(answers[i], samples[i].Answer);
            var key = (samples[i].Mode, samples[i].Question);
            var (c, t) = cells.GetValueOrDefault(key);
            cells[key] = (c + (ok ? 1 : 0), t + 1);
            if (!ok && misses.Count < 20) misses.Add((samples[i], answers[i]));
        }
    }

    public long FirstSeed { get; }
    public int Scenes { get; }
    public int Count => cells.Values.Sum(c => c.Total);
    public double Accuracy => Ratio(cells.Values);

    /// <summary>Accuracy over one alpha mode (NaN when none was asked).</summary>
    public double AccuracyOf(RegionAlphaMode mode) => Ratio(cells.Where(c => c.Key.Mode == mode).Select(c => c.Value));

    /// <summary>Accuracy of one question under one alpha mode (NaN when none was asked).</summary>
    public double AccuracyOf(RegionAlphaMode mode, string question) => Ratio(cells.Where(c => c.Key == (mode, question)).Select(c => c.Value));

    /// <summary>Up to 20 wrong answers with their samples, for the log.</summary>
    public IReadOnlyList<(LlavaSample Sample, string Answer)> Misses => misses;

    public JsonObject ToJson()
    {
        var byMode = new JsonObject();
        foreach (var mode in cells.Keys.Select(k => k.Mode).Distinct().Order())
        {
            var byQuestion = new JsonObject();
            foreach (var ((m, q), (c, t)) in cells.Where(c => c.Key.Mode == mode).OrderBy(c => c.Key.Question, StringComparer.Ordinal))
                byQuestion[q] = new JsonObject { ["accuracy"] = Round(Ratio([(c, t)])), ["n"] = t };
            byMode[mode.ToString().ToLowerInvariant()] = new JsonObject
            {
                ["accuracy"] = Round(AccuracyOf(mode)), ["n"] = cells.Where(c => c.Key.Mode == mode).Sum(c => c.Value.Total),
                ["by_question"] = byQuestion,
            };
        }
        return new JsonObject
        {
            ["first_seed"] = FirstSeed, ["scenes"] = Scenes, ["questions"] = Count, ["accuracy"] = Round(Accuracy), ["by_mode"] = byMode,
            ["misses"] = new JsonArray(misses.Take(5).Select(m => (JsonNode)$"{m.Sample} | got '{m.Answer}'").ToArray()),
        };
    }

    static double Ratio(IEnumerable<(int Correct, int Total)> cells)
    {
        int c = 0, t = 0;
        foreach (var cell in cells) (c, t) = (c + cell.Correct, t + cell.Total);
        return t == 0 ? double.NaN : (double)c / t;
    }

    static double Round(double v) => double.IsNaN(v) ? v : Math.Round(v, 4);
}

/// <summary>
/// Asks every question of a set of scenes (whole-image questions with the all-ones alpha; every region question of
/// every object with its mask and/or box alpha) and scores exact matches of the answers.
/// </summary>
public static class ShapesLlavaEvaluator
{
    /// <summary>The samples of scenes firstSeed .. firstSeed+scenes-1 for the given alpha modes, in a fixed order.</summary>
    public static IReadOnlyList<LlavaSample> Samples(long firstSeed, int scenes, IReadOnlyList<RegionAlphaMode> modes)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(scenes, 1);
        var samples = new List<LlavaSample>();
        foreach (var scene in ShapesGenerator.GenerateMany(firstSeed, scenes))
        {
            if (modes.Contains(RegionAlphaMode.Whole)) samples.AddRange(scene.Qa.Select(qa => LlavaSample.Whole(scene, qa)));
            foreach (var mode in modes.Where(m => m != RegionAlphaMode.Whole).Distinct())
                foreach (var o in scene.Objects)
                    samples.AddRange(o.Qa.Select(qa => LlavaSample.OfRegion(scene, o, mode, qa)));
        }
        return samples;
    }

    /// <summary>Answers the samples with <paramref name="answer"/> (e.g. the twin's greedy decoding) and scores them.</summary>
    public static ShapesEvalReport Evaluate(long firstSeed, int scenes, IReadOnlyList<RegionAlphaMode> modes,
        Func<IReadOnlyList<LlavaSample>, IReadOnlyList<string>> answer)
    {
        var samples = Samples(firstSeed, scenes, modes);
        return new ShapesEvalReport(firstSeed, scenes, samples, answer(samples));
    }

    /// <summary>Scores given answers of samples (e.g. a subset of <see cref="Samples"/>).</summary>
    public static ShapesEvalReport Score(long firstSeed, int scenes, IReadOnlyList<LlavaSample> samples, IReadOnlyList<string> answers) =>
        new(firstSeed, scenes, samples, answers);

    /// <summary>The twin's greedy answers.</summary>
    public static ShapesEvalReport Evaluate(ShapesLlavaModel model, long firstSeed, int scenes, IReadOnlyList<RegionAlphaMode> modes) =>
        Evaluate(firstSeed, scenes, modes, s => model.GreedyAnswers(s));

    /// <summary>Exact match after trimming (the engine's text starts with the first piece's space).</summary>
    public static bool Matches(string answer, string expected) => string.Equals(answer.Trim(), expected, StringComparison.Ordinal);
}
