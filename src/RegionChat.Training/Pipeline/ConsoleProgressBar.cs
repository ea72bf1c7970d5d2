using System.Globalization;

namespace RegionChat.Training.Pipeline;

/// <summary>
/// Training progress on a text writer (stderr): on a terminal one line per stage redrawn in place
/// ("[llm] 120/600 [#####...] loss 1.234 acc 0.612 0.21 s/step eta 1m41s"); otherwise (a log file) about twenty
/// plain lines per stage. Evaluation summaries always get their own line.
/// </summary>
public sealed class ConsoleProgressBar(TextWriter output, bool interactive)
{
    const int BarWidth = 24;
    int lastLength;

    public void Report(ShapesPipelineProgress p)
    {
        string stage = p.Stage.ToString().ToLowerInvariant();
        double remaining = (p.Steps - p.Step) * (p.Elapsed.TotalSeconds / Math.Max(1, p.Step));
        int filled = (int)Math.Round(BarWidth * (double)p.Step / Math.Max(1, p.Steps));
        string line = string.Create(CultureInfo.InvariantCulture,
            $"[{stage}] {p.Step}/{p.Steps} [{new string('#', filled)}{new string('.', BarWidth - filled)}] loss {p.Loss:F4} acc {p.Accuracy:F3} " +
            $"{p.StepSeconds:F2} s/step eta {Duration(remaining)}");
        bool last = p.Step >= p.Steps;
        if (interactive)
        {
            output.Write("\r" + line.PadRight(lastLength));
            lastLength = line.Length;
            if (last || p.Eval != null)
            {
                output.WriteLine();
                lastLength = 0;
            }
        }
        else if (last || p.Step == 1 || p.Step % Math.Max(1, p.Steps / 20) == 0)
            output.WriteLine(line);
        if (p.Eval != null) output.WriteLine($"[{stage}] eval at step {p.Step}: {p.Eval}");
        output.Flush();
    }

    /// <summary>A message on its own line (ending a redrawn progress line first).</summary>
    public void Message(string text)
    {
        if (lastLength > 0)
        {
            output.WriteLine();
            lastLength = 0;
        }
        output.WriteLine(text);
        output.Flush();
    }

    static string Duration(double seconds)
    {
        var t = TimeSpan.FromSeconds(Math.Max(0, seconds));
        return t.TotalHours >= 1 ? $"{(int)t.TotalHours}h{t.Minutes:D2}m" : t.TotalMinutes >= 1 ? $"{(int)t.TotalMinutes}m{t.Seconds:D2}s" : $"{t.Seconds}s";
    }
}
