using System.Diagnostics;
using System.Globalization;
using RegionChat.CaptionBatch;

namespace RegionChat.Cli.Commands;

/// <summary>
/// caption-batch's progress on stderr: on a terminal a bar redrawn in place (at most 5 times a second); otherwise (a
/// log, a pipe) one line every 5 seconds, also while no item finishes (the job reports every <see cref="Tick"/>), with
/// the items in flight and waiting. Job events (a server going down, …) print on their own lines.
/// Called from the job's worker threads.
/// </summary>
internal sealed class CaptionBatchProgressBar(TextWriter error, bool interactive)
{
    const int Width = 30;
    /// <summary>How often the job reports even when no item finished.</summary>
    public static readonly TimeSpan Tick = TimeSpan.FromSeconds(1);

    readonly Lock gate = new();
    readonly Stopwatch sinceDrawn = Stopwatch.StartNew();
    // A line counts as due a little early, so that reports on the tick keep the lines every 5 s, not 6.
    readonly TimeSpan every = interactive ? TimeSpan.FromMilliseconds(200) : TimeSpan.FromSeconds(5) - TimeSpan.FromMilliseconds(250);
    CaptionBatchProgress? last, drawn;
    bool barOnScreen;

    public void Report(CaptionBatchProgress p)
    {
        lock (gate)
        {
            last = p;
            if (sinceDrawn.Elapsed < every && p.Remaining > 0) return;
            Draw(p);
        }
    }

    public void Log(string message)
    {
        lock (gate)
        {
            ClearBar();
            error.WriteLine(message);
            error.Flush();
            if (last != null && interactive) Draw(last);
        }
    }

    public void Finish()
    {
        lock (gate)
        {
            if (last != null && !ReferenceEquals(last, drawn)) Draw(last);
            if (barOnScreen) error.WriteLine();
            barOnScreen = false;
            error.Flush();
        }
    }

    void Draw(CaptionBatchProgress p)
    {
        sinceDrawn.Restart();
        drawn = p;
        string line = Format(p);
        if (interactive)
        {
            error.Write("\r" + line.PadRight(Console.IsErrorRedirected ? 0 : Math.Max(0, SafeWindowWidth() - 1)));
            barOnScreen = true;
        }
        else error.WriteLine(line);
        error.Flush();
    }

    void ClearBar()
    {
        if (!barOnScreen) return;
        error.Write("\r" + new string(' ', Math.Max(0, SafeWindowWidth() - 1)) + "\r");
        barOnScreen = false;
    }

    internal static string Format(CaptionBatchProgress p)
    {
        int todo = Math.Max(1, p.ToDo);
        double fraction = Math.Clamp((double)p.Done / todo, 0, 1);
        int filled = (int)Math.Round(fraction * Width);
        string eta = p.Remaining == 0 ? "done" : p.Eta is { } t ? "ETA " + Duration(t) : "ETA --";
        return string.Create(CultureInfo.InvariantCulture,
            $"[{new string('#', filled)}{new string('.', Width - filled)}] {p.Done}/{p.ToDo} {fraction * 100,3:F0}% {p.ItemsPerSecond:F2} items/s {eta}" +
            $"{(p.Failed > 0 ? $" failed {p.Failed}" : "")}{(p.Skipped > 0 ? $" (skipped {p.Skipped} done earlier)" : "")}{Activity(p)}");
    }

    /// <summary>What the job is waiting on: items in flight and waiting, and how long since one finished once that is
    /// long (a server that stopped answering shows here).</summary>
    static string Activity(CaptionBatchProgress p)
    {
        if (p.Remaining == 0 || (p.InFlight == 0 && p.Waiting == 0)) return "";
        string idle = p.SinceLastFinished >= IdleShown ? $", none finished for {Duration(p.SinceLastFinished)}" : "";
        return string.Create(CultureInfo.InvariantCulture, $", {p.InFlight} in flight, {p.Waiting} waiting{idle}");
    }

    static readonly TimeSpan IdleShown = TimeSpan.FromSeconds(10);

    static string Duration(TimeSpan t) => t.TotalHours >= 1
        ? $"{(int)t.TotalHours}:{t.Minutes:D2}:{t.Seconds:D2}"
        : $"{t.Minutes}:{t.Seconds:D2}";

    static int SafeWindowWidth()
    {
        try { return Console.WindowWidth > 0 ? Console.WindowWidth : 100; }
        catch (IOException) { return 100; }
    }
}
