using System.Globalization;

namespace RegionChat.Cli.Commands;

/// <summary>
/// CPU time of this process's threads by name (Linux: /proc/self/task/*/schedstat, nanoseconds on a CPU). `bench batch`
/// reads it for the two stage threads of its in-process server, the LLM engine's and the vision batcher's, to show how
/// busy each stage of the pipeline is.
/// </summary>
internal sealed class ThreadCpu
{
    const string Tasks = "/proc/self/task";

    // Per thread id, so a thread that ends between two readings cannot make a difference negative.
    readonly Dictionary<int, (string Name, double Ms)> threads;

    ThreadCpu(Dictionary<int, (string Name, double Ms)> threads) => this.threads = threads;

    /// <summary>The CPU time so far of every thread named one of <paramref name="names"/>; null where /proc is not there.</summary>
    public static ThreadCpu? Read(params string[] names)
    {
        if (!Directory.Exists(Tasks)) return null;
        var wanted = new HashSet<string>(names, StringComparer.Ordinal);
        var threads = new Dictionary<int, (string, double)>();
        foreach (var task in Directory.EnumerateDirectories(Tasks))
        {
            try
            {
                string name = File.ReadAllText(Path.Combine(task, "comm")).TrimEnd('\n');
                if (!wanted.Contains(name) || !int.TryParse(Path.GetFileName(task), out int tid)) continue;
                string first = File.ReadAllText(Path.Combine(task, "schedstat")).Split(' ')[0];
                threads[tid] = (name, long.Parse(first, CultureInfo.InvariantCulture) / 1e6);
            }
            catch (IOException) { }   // the thread ended between listing and reading
            catch (UnauthorizedAccessException) { }
        }
        return new ThreadCpu(threads);
    }

    /// <summary>Milliseconds the threads named <paramref name="name"/> spent on a CPU between <paramref name="before"/> and
    /// this reading (a thread started since counts from zero; one that ended since is left out).</summary>
    public double Since(ThreadCpu before, string name) => threads
        .Where(t => t.Value.Name == name)
        .Sum(t => t.Value.Ms - (before.threads.TryGetValue(t.Key, out var b) ? b.Ms : 0));
}
