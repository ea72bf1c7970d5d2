using System.Globalization;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.Json.Nodes;
using System.Text.Json;
using RegionChat.Data.Batch;

namespace RegionChat.CaptionBatch.Internal;

/// <summary>
/// A running job's shared state: the queue, the output writers, the counters, the progress and log callbacks, and
/// the job-wide stop (the caller's cancel, or an abort when nothing can go on).
/// </summary>
internal sealed class JobState : IDisposable
{
    readonly ResumableJsonlWriter output;
    readonly ResumableJsonlWriter? errors;
    readonly Action<CaptionBatchProgress>? progress;
    readonly Action<string>? log;
    readonly CancellationTokenSource stop;
    readonly Stopwatch clock = Stopwatch.StartNew();
    readonly ConcurrentDictionary<string, byte> models = new(StringComparer.Ordinal);
    readonly List<ServerStats> servers = [];
    readonly Lock gate = new();
    // How many times a server came back: a wait for one that began before that is moot.
    int comebacks;
    int captioned, failed, setAside, inFlight;
    // When an item last finished (the run clock's ticks).
    long lastFinished;
    string? abortMessage;
    Exception? abortCause;

    public JobState(CaptionBatchOptions options, string inputFolder, int total, int skipped, ResumableJsonlWriter output,
        ResumableJsonlWriter? errors, IReadOnlyCollection<WorkItem> pending, Action<CaptionBatchProgress>? progress,
        Action<string>? log, CancellationToken ct)
    {
        Options = options;
        InputFolder = inputFolder;
        Total = total;
        Skipped = skipped;
        this.output = output;
        this.errors = errors;
        this.progress = progress;
        this.log = log;
        stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        Queue = new WorkQueue(pending);
    }

    public CaptionBatchOptions Options { get; }
    /// <summary>The models whose records an earlier run left in the output (empty for a new output).</summary>
    public IReadOnlySet<string> PriorModels { get; init; } = new HashSet<string>();

    /// <summary>Relative mask paths in JSONL regions resolve against the input file's folder, like image paths.</summary>
    public string InputFolder { get; }
    public int Total { get; }
    public int Skipped { get; }
    public WorkQueue Queue { get; }
    /// <summary>Cancelled when the caller cancels or the job aborts.</summary>
    public CancellationToken Token => stop.Token;
    public string? AbortMessage => abortMessage;
    public Exception? AbortCause => abortCause;
    public bool AbortRefused { get; private set; }
    public bool AbortOutputFailed { get; private set; }
    public IReadOnlyCollection<string> Models => models.Keys.Order(StringComparer.Ordinal).ToArray();

    public ServerStats AddServer(string address)
    {
        var stats = new ServerStats(address);
        lock (gate) servers.Add(stats);
        return stats;
    }

    public IReadOnlyList<CaptionBatchServerSummary> ServerSummaries()
    {
        lock (gate) return servers.Select(s => s.ToSummary()).ToArray();
    }

    public CaptionBatchProgress Snapshot()
    {
        var elapsed = clock.Elapsed;
        int done = Volatile.Read(ref captioned), bad = Volatile.Read(ref failed), aside = Volatile.Read(ref setAside);
        int open = Math.Max(0, Total - Skipped - done - bad - aside);
        // In-process workers count an item until its handler returns, just after it was recorded.
        int running = Math.Clamp(Volatile.Read(ref inFlight), 0, open);
        return new(Total, Skipped, done, bad, elapsed)
        {
            SetAside = aside,
            InFlight = running,
            Waiting = open - running,
            SinceLastFinished = elapsed - TimeSpan.FromTicks(Volatile.Read(ref lastFinished)),
        };
    }

    /// <summary>Counts items sent to a server (or handed to an in-process worker) and not answered yet.</summary>
    public void AddInFlight(int delta) => Interlocked.Add(ref inFlight, delta);

    /// <summary>Reports progress every <paramref name="every"/> until <paramref name="ct"/> is cancelled, whether or not
    /// an item finished: a job waiting on a server that does not answer still shows where it stands.</summary>
    public async Task ReportEveryAsync(TimeSpan every, CancellationToken ct)
    {
        if (progress == null || every <= TimeSpan.Zero) return;
        using var timer = new PeriodicTimer(every);
        try
        {
            while (await timer.WaitForNextTickAsync(ct).ConfigureAwait(false)) progress(Snapshot());
        }
        catch (OperationCanceledException)
        {
            // The job ended.
        }
    }

    public void Log(string message) => log?.Invoke(message);

    /// <summary>Stops the job: workers see <see cref="Token"/> cancelled; the first reason wins. <paramref name="refused"/>:
    /// the job cannot run as given (<see cref="CaptionBatchAbortedException.Refused"/>); <paramref name="outputFailed"/>: a
    /// record could not be written (<see cref="CaptionBatchAbortedException.OutputFailed"/>).</summary>
    public void Abort(string message, Exception? cause = null, bool refused = false, bool outputFailed = false)
    {
        lock (gate)
        {
            if (abortMessage != null) return;
            abortMessage = message;
            abortCause = cause;
            AbortRefused = refused;
            AbortOutputFailed = outputFailed;
        }
        stop.Cancel();
    }

    /// <summary>Notes the model that answered; false (the job stops, nothing written) when the output holds an earlier
    /// run's records of other models only: resuming would mix two models' answers in one file.</summary>
    bool Answered(string model)
    {
        if (PriorModels.Count > 0 && !PriorModels.Contains(model))
        {
            Abort($"the output holds records of model {string.Join(", ", PriorModels.Order(StringComparer.Ordinal).Select(m => $"'{m}'"))} " +
                $"but this run's answers come from model '{model}'; resume with that model, or give this job its own --output", refused: true);
            return false;
        }
        models.TryAdd(model, 0);
        return true;
    }

    /// <param name="logprobs">With --logprobs: the caption's tokens' log-probabilities, written as their sum and count.</param>
    public void Captioned(WorkItem item, string caption, string model, JsonObject timings, ServerStats? server = null,
        IReadOnlyCollection<float>? logprobs = null)
    {
        if (!Answered(model)) return;
        var record = new JsonObject { ["id"] = item.Input.IdNode(), ["caption"] = caption, ["model"] = model };
        if (Options.Json || Options.JsonSchema != null)
        {
            // The format kept the answer to its JSON; only an answer cut at the length limit is not whole.
            try { record["json"] = JsonNode.Parse(caption); }
            catch (JsonException)
            {
                string limit = Options.MaxTokens == 0 ? "the default max tokens" : $"--max-tokens {Options.MaxTokens}";
                Failed(item, $"the answer ended before its JSON was whole (cut at {limit}?): '{(caption.Length > 80 ? caption[..80] + "…" : caption)}'");
                return;
            }
        }
        if (logprobs != null)
        {
            record["logprob"] = Math.Round(logprobs.Sum(l => (double)l), 6);
            record["tokens"] = logprobs.Count;
        }
        record["timings"] = timings;
        if (!Write(output, record)) return;
        if (server != null) Interlocked.Increment(ref server.Captioned);
        Interlocked.Increment(ref captioned);
        Resolved();
    }

    /// <summary>A classified item: its labels best first with their probabilities.</summary>
    public void Classified(WorkItem item, IEnumerable<(string Label, double P)> labels, string model, JsonObject timings, ServerStats? server = null)
    {
        if (!Answered(model)) return;
        var array = new JsonArray(labels.Select(l => (JsonNode)new JsonObject { ["label"] = l.Label, ["p"] = Math.Round(l.P, 6) }).ToArray());
        if (!Write(output, new JsonObject { ["id"] = item.Input.IdNode(), ["labels"] = array, ["model"] = model, ["timings"] = timings })) return;
        if (server != null) Interlocked.Increment(ref server.Captioned);
        Interlocked.Increment(ref captioned);
        Resolved();
    }

    /// <summary>An embedded item: its region's vector.</summary>
    public void Embedded(WorkItem item, IEnumerable<float> vector, string model, JsonObject timings, ServerStats? server = null)
    {
        if (!Answered(model)) return;
        var array = new JsonArray(vector.Select(v => (JsonNode)JsonValue.Create(v)).ToArray());
        if (!Write(output, new JsonObject { ["id"] = item.Input.IdNode(), ["embedding"] = array, ["model"] = model, ["timings"] = timings })) return;
        if (server != null) Interlocked.Increment(ref server.Captioned);
        Interlocked.Increment(ref captioned);
        Resolved();
    }

    /// <summary>Records the item as failed for good (bad input: its image, its region, what the server refuses in it).</summary>
    public void Failed(WorkItem item, string error, ServerStats? server = null)
    {
        if (!Write(errors ?? output, new JsonObject { ["id"] = item.Input.IdNode(), ["error"] = error })) return;
        if (server != null) Interlocked.Increment(ref server.Failed);
        Interlocked.Increment(ref failed);
        Resolved();
    }

    /// <summary>A transient failure: back to the queue after a backoff; once the retries are spent, set aside unrecorded
    /// (the failure was the server's or the network's, not the item's: a rerun does it, as it does a stopped job's items).</summary>
    public void Retry(WorkItem item, string error, ServerStats? server = null)
    {
        int failures = Interlocked.Increment(ref item.Failures);
        if (failures > Options.Retries)
        {
            Interlocked.Increment(ref setAside);
            Log($"item '{item.Id}' is left for a rerun: {error} ({failures} attempts)");
            Resolved();
            return;
        }
        if (server != null) Interlocked.Increment(ref server.Requeued);
        Queue.Requeue(item, Backoff(failures), Token);
    }

    /// <summary>Exponential backoff with jitter: Backoff · 2^(failures-1), at most MaxBackoff.</summary>
    public TimeSpan Backoff(int failures)
    {
        double ms = Options.Backoff.TotalMilliseconds * Math.Pow(2, Math.Min(failures - 1, 20));
        ms = Math.Min(ms, Options.MaxBackoff.TotalMilliseconds);
        return TimeSpan.FromMilliseconds(ms * (0.75 + 0.5 * Random.Shared.NextDouble()));
    }

    /// <summary>Marks a server up or down; when every server stays down for <see cref="CaptionBatchOptions.ServerWait"/>
    /// (a restart that loads a large model takes a while), the job aborts.</summary>
    public void SetDown(ServerStats server, bool down)
    {
        if (server.Down == down) return;
        server.Down = down;
        bool allDown;
        lock (gate) allDown = servers.All(s => s.Down);
        var wait = Options.ServerWait;
        string waiting = wait > TimeSpan.Zero
            ? string.Create(CultureInfo.InvariantCulture, $"no server is left: waiting up to {wait.TotalSeconds:0.###} s for one to come back (--server-wait)")
            : "no server is left";
        if (down) Log($"server {server.Address} is down ({server.LastError}); {(allDown ? waiting : "the other servers take its items")}");
        else Log($"server {server.Address} is back");
        if (!down) Interlocked.Increment(ref comebacks);
        else if (allDown && wait <= TimeSpan.Zero) AbortNoServer(wait);
        else if (allDown) _ = WaitForAServerAsync(Volatile.Read(ref comebacks), wait);
    }

    async Task WaitForAServerAsync(int comebacksBefore, TimeSpan wait)
    {
        try { await Task.Delay(wait, Token).ConfigureAwait(false); }
        catch (OperationCanceledException) { return; } // the job ended
        bool stillDown;
        lock (gate) stillDown = servers.All(s => s.Down);
        if (stillDown && Volatile.Read(ref comebacks) == comebacksBefore) AbortNoServer(wait);
    }

    void AbortNoServer(TimeSpan waited) =>
        Abort($"no server is reachable ({string.Join("; ", ServerSummaries().Select(s => $"{s.Address}: {s.LastError}"))})" +
              (waited > TimeSpan.Zero ? string.Create(CultureInfo.InvariantCulture, $", none came back within {waited.TotalSeconds:0.###} s") : "") +
              "; rerun the same command to resume");

    bool Write(ResumableJsonlWriter writer, JsonObject record)
    {
        try
        {
            // False: the id is already there (cannot happen for pending items); nothing to count.
            return writer.TryAppend(record);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ObjectDisposedException)
        {
            Abort($"cannot write {writer.Path}: {e.Message}", e, outputFailed: true);
            return false;
        }
    }

    void Resolved()
    {
        Volatile.Write(ref lastFinished, clock.Elapsed.Ticks);
        Queue.Resolve();
        progress?.Invoke(Snapshot());
    }

    public void Dispose()
    {
        Queue.Dispose();
        stop.Dispose();
    }
}
