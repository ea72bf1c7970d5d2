using System.Diagnostics;
using System.Globalization;

namespace RegionChat.Cli.Pull.Internal;

/// <summary>
/// One file's download progress on stderr: bytes, rate and ETA. On a terminal a bar redrawn in place (at most 5 times a
/// second); otherwise (a log, a pipe) a plain line every 5 seconds and one at the end.
/// </summary>
internal sealed class DownloadProgressBar(TextWriter error, bool interactive, string file, long resumedAt, long? total)
{
    const int Width = 24;
    readonly Stopwatch clock = Stopwatch.StartNew();
    readonly TimeSpan every = interactive ? TimeSpan.FromMilliseconds(200) : TimeSpan.FromSeconds(5);
    TimeSpan? drawnAt;
    long done, drawn = -1;
    int lineLength;

    /// <summary>Called after every chunk with the bytes the partial file now holds.</summary>
    public void Report(long bytesSoFar)
    {
        done = bytesSoFar;
        if (drawnAt is { } at && clock.Elapsed - at < every) return;
        Draw();
    }

    /// <summary>Draws the last state and ends the line.</summary>
    public void Finish()
    {
        if (Math.Max(done, resumedAt) != drawn) Draw();
        if (interactive) error.WriteLine();
        error.Flush();
    }

    void Draw()
    {
        drawnAt = clock.Elapsed;
        drawn = Math.Max(done, resumedAt);
        string line = Format(file, drawn, resumedAt, total, clock.Elapsed);
        if (interactive) error.Write("\r" + line.PadRight(lineLength)); // wipe what is left of a longer previous line
        else error.WriteLine(line);
        lineLength = line.Length;
        error.Flush();
    }

    /// <summary>"file [#####.....] 1.20 GB / 4.08 GB  29%  11.3 MB/s  ETA 4:15"; the rate counts only this run's bytes.</summary>
    internal static string Format(string file, long done, long resumedAt, long? total, TimeSpan elapsed)
    {
        double seconds = Math.Max(elapsed.TotalSeconds, 1e-3);
        double rate = (done - resumedAt) / seconds;
        var text = new System.Text.StringBuilder(file).Append(' ');
        if (total is { } t && t > 0)
        {
            double fraction = Math.Clamp((double)done / t, 0, 1);
            int filled = (int)Math.Round(fraction * Width);
            text.Append('[').Append('#', filled).Append('.', Width - filled).Append("] ");
            text.Append(Size(done)).Append(" / ").Append(Size(t)).Append(string.Create(CultureInfo.InvariantCulture, $" {fraction * 100,3:F0}%"));
            text.Append("  ").Append(Size((long)rate)).Append("/s");
            text.Append(done >= t ? "  done" : rate > 0 ? "  ETA " + Duration(TimeSpan.FromSeconds((t - done) / rate)) : "  ETA --");
        }
        else text.Append(Size(done)).Append("  ").Append(Size((long)rate)).Append("/s");
        if (resumedAt > 0) text.Append("  (resumed at ").Append(Size(resumedAt)).Append(')');
        return text.ToString();
    }

    internal static string Size(long bytes) => bytes switch
    {
        >= 1_000_000_000 => string.Create(CultureInfo.InvariantCulture, $"{bytes / 1e9:F2} GB"),
        >= 1_000_000 => string.Create(CultureInfo.InvariantCulture, $"{bytes / 1e6:F1} MB"),
        >= 1_000 => string.Create(CultureInfo.InvariantCulture, $"{bytes / 1e3:F1} kB"),
        _ => $"{bytes} B",
    };

    static string Duration(TimeSpan t) => t.TotalHours >= 1 ? $"{(int)t.TotalHours}:{t.Minutes:D2}:{t.Seconds:D2}" : $"{t.Minutes}:{t.Seconds:D2}";
}
