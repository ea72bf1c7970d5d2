using System.Globalization;

namespace RegionChat.Cli.Commands;

/// <summary>
/// CPU time of this process's threads of one name, summed (Linux: /proc/self/task/*/schedstat, nanoseconds on a CPU).
/// `bench batch` reads it for the two stage threads, the LLM engine's and the vision batcher's, to show how busy
/// each stage of the pipeline is.
/// </summary>
internal static class ThreadCpu
{
    const string Tasks = "/proc/self/task";

    /// <summary>Milliseconds on a CPU per thread name for <paramref name="names"/>; null where /proc is not there.</summary>
    public static Dictionary<string, double>? Read(params string[] names)
    {
        if (!Directory.Exists(Tasks)) return null;
        var totals = names.ToDictionary(n => n, _ => 0.0, StringComparer.Ordinal);
        foreach (var task in Directory.EnumerateDirectories(Tasks))
        {
            try
            {
                string name = File.ReadAllText(Path.Combine(task, "comm")).TrimEnd('\n');
                if (!totals.ContainsKey(name)) continue;
                string first = File.ReadAllText(Path.Combine(task, "schedstat")).Split(' ')[0];
                totals[name] += long.Parse(first, CultureInfo.InvariantCulture) / 1e6;
            }
            catch (IOException) { }   // the thread ended between listing and reading
            catch (UnauthorizedAccessException) { }
        }
        return totals;
    }
}
