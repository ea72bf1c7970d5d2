using System.Globalization;

namespace RegionChat.Training.Clip;

/// <summary>
/// A one-line progress bar for <see cref="TrainingProgress"/> reports, redrawn with '\r' (meant for stderr):
/// <c>clip [#######.............] 350/1000 loss 1.234 acc 56% 0.82 s/step eta 8m53s</c>, plus a full line per evaluation.
/// </summary>
public sealed class TrainingProgressBar(TextWriter output, int width = 24)
{
    readonly TextWriter output = output ?? throw new ArgumentNullException(nameof(output));
    double? smoothedSeconds;

    public void Report(TrainingProgress p)
    {
        // Exponential smoothing: one slow step (an evaluation, a busy machine) should not swing the estimate.
        smoothedSeconds = smoothedSeconds is { } s ? 0.9 * s + 0.1 * p.StepSeconds : p.StepSeconds;
        int filled = p.Steps == 0 ? width : (int)((long)width * p.Step / p.Steps);
        var eta = TimeSpan.FromSeconds(smoothedSeconds.Value * Math.Max(0, p.Steps - p.Step));
        string line = string.Create(CultureInfo.InvariantCulture,
            $"{p.Stage} [{new string('#', filled)}{new string('.', width - filled)}] {p.Step}/{p.Steps} loss {p.Loss:F3} " +
            $"acc {p.Accuracy:P0} {smoothedSeconds:F2} s/step eta {Format(eta)}");
        output.Write("\r" + line.PadRight(100));
        if (p.Eval is { } eval)
            output.WriteLine(($"\r{p.Stage} step {p.Step}: zero-shot ({eval.Scenes} validation scenes, {eval.Regions} regions) {eval.Summary()}; " +
                $"prompt cosine size/colour/shape-only {eval.Prompts.SizeOnly:F2}/{eval.Prompts.ColorOnly:F2}/{eval.Prompts.ShapeOnly:F2}").PadRight(100));
        if (p.Step == p.Steps) output.WriteLine();
        output.Flush();
    }

    static string Format(TimeSpan t) =>
        t.TotalHours >= 1 ? $"{(int)t.TotalHours}h{t.Minutes:D2}m" : t.TotalMinutes >= 1 ? $"{(int)t.TotalMinutes}m{t.Seconds:D2}s" : $"{t.Seconds}s";
}
