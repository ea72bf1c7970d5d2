using RegionChat.CaptionBatch.Internal;
using RegionChat.Inference;
using RegionChat.Llm.Engine;
using RegionChat.Data.Batch;

namespace RegionChat.CaptionBatch;

/// <summary>
/// Runs a caption batch job: reads the input (JSONL or COCO), skips the ids already recorded in the output (and
/// errors) file, and captions the rest through the given servers or an in-process model, appending one record per item
/// as it finishes.
/// </summary>
/// <remarks>
/// <para>Crash-safe: every record is one whole line written with one write(2) (<see cref="ResumableJsonlWriter"/>), so a
/// job killed at any moment leaves complete lines plus at most a torn last line, which the next run removes; the next
/// run then does exactly the items without a record. Every id ends up in the files exactly once.</para>
/// <para>Items that cannot work (missing or corrupt image, bad region, a request the server rejects as invalid)
/// become error records at once. Transient failures (server unavailable or gone, queue full, transport errors) send
/// the item back to the queue after a backoff, where any server can take it; after more than
/// <see cref="CaptionBatchOptions.Retries"/> such failures it is set aside without a record, for the next run.</para>
/// </remarks>
public static class CaptionBatchJob
{
    /// <summary>Fsync every this many records: a kill loses nothing the OS holds; this bounds the loss on power failure.</summary>
    const int FsyncEvery = 32;

    /// <summary>Runs the job to its end.</summary>
    /// <param name="progress">Called after every finished item (from worker threads), and every
    /// <see cref="CaptionBatchOptions.ProgressInterval"/> when that is set.</param>
    /// <param name="log">Notable events: a server failing, going down or coming back.</param>
    /// <exception cref="ArgumentException">Bad options.</exception>
    /// <exception cref="InvalidDataException">The input (or an existing output file) is malformed.</exception>
    /// <exception cref="FileNotFoundException">The input does not exist.</exception>
    /// <exception cref="IOException">The output is in use by another job or cannot be opened.</exception>
    /// <exception cref="CaptionBatchAbortedException">The job stopped early (cancelled, no server reachable, the key
    /// refused, the model not loadable, the output not writable); what was written stays and a rerun resumes.</exception>
    public static async Task<CaptionBatchSummary> RunAsync(CaptionBatchOptions options, Action<CaptionBatchProgress>? progress = null,
        Action<string>? log = null, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        foreach (var server in options.Servers) ServerAddress.Parse(server);
        if (options.ModelDir != null && !File.Exists(Path.Combine(options.ModelDir, ModelManifest.FileName)))
            throw new ArgumentException($"--model: no {ModelManifest.FileName} in {Path.GetFullPath(options.ModelDir)}");

        string input = Path.GetFullPath(options.InputPath);
        var (_, allItems) = BatchInputFiles.Read(input, options.RegionFrom, options.ImageRoot);
        var shard = options.Shard;
        IReadOnlyList<BatchInputItem> items = shard.IsSplit ? allItems.Where(i => shard.Contains(i.Id)).ToArray() : allItems;
        if (shard.IsSplit) log?.Invoke($"shard {shard}: {items.Count} of the input's {allItems.Count} items");
        var inputIds = items.Select(i => i.Id).ToHashSet(StringComparer.Ordinal);

        string output = Path.GetFullPath(options.OutputPath);
        string? errorsPath = options.ErrorsPath is null ? null : Path.GetFullPath(options.ErrorsPath);
        Directory.CreateDirectory(Path.GetDirectoryName(output)!);
        if (errorsPath != null) Directory.CreateDirectory(Path.GetDirectoryName(errorsPath)!);
        var (priorErrors, priorKinds, priorModels) = PriorRecords.Read([output, errorsPath], inputIds);
        // A rerun resumes the same job: records of another task in the output would be skipped as done.
        string field = PriorRecords.ResultField(options.TaskKind);
        if (priorKinds.FirstOrDefault(k => k != field) is { } other)
            throw new ArgumentException($"--output {output} holds \"{other}\" records, not the \"{field}\" records --task " +
                $"{options.TaskKind.ToString().ToLowerInvariant()} writes: it is another job's output; give this job its own --output");

        using var outputWriter = ResumableJsonlWriter.Open(output, FsyncEvery);
        using var errorsWriter = errorsPath is null ? null : ResumableJsonlWriter.Open(errorsPath, FsyncEvery);
        JobSettings.Of(options, errorsPath).CheckAndKeep(output); // the output is this job's now (opened exclusively)
        var pending = items
            .Where(i => !outputWriter.Contains(i.Id) && errorsWriter?.Contains(i.Id) != true)
            .Select(i => new WorkItem(i))
            .ToArray();
        long repaired = outputWriter.RepairedBytes + (errorsWriter?.RepairedBytes ?? 0);
        if (repaired > 0) log?.Invoke($"removed a torn last line ({repaired} bytes) left by an interrupted run");

        using var job = new JobState(options, Path.GetDirectoryName(input)!, items.Count, items.Count - pending.Length,
            outputWriter, errorsWriter, pending, progress, log, ct)
        {
            PriorModels = priorModels,
        };
        CaptionBatchSummary Summary() => new(job.Snapshot(), priorErrors, repaired, job.Models.ToArray(), job.ServerSummaries(), output, errorsPath)
        {
            Shard = shard,
        };

        if (pending.Length > 0)
        {
            using var stopReports = new CancellationTokenSource();
            var reports = job.ReportEveryAsync(options.ProgressInterval, stopReports.Token);
            try
            {
                if (options.ModelDir != null) await RunInProcessAsync(job, options).ConfigureAwait(false);
                else await RunOnServersAsync(job, options).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (job.Token.IsCancellationRequested)
            {
                // Reported below.
            }
            catch (Exception e) when (job.AbortMessage == null)
            {
                // Anything else (a native engine failure, a bug) stops the job like an abort: what is written stays.
                job.Abort($"the job failed: {e.GetType().Name}: {e.Message}; rerun the same command to resume", e);
            }
            finally
            {
                // No report after the job returns: the caller prints its summary then.
                stopReports.Cancel();
                await reports.ConfigureAwait(false);
            }
        }

        if (job.AbortMessage != null)
            throw new CaptionBatchAbortedException(job.AbortMessage, Summary(), job.AbortCause, job.AbortRefused, job.AbortOutputFailed);
        if (ct.IsCancellationRequested)
            throw new CaptionBatchAbortedException("cancelled; rerun the same command to resume", Summary(), new OperationCanceledException(ct));
        return Summary();
    }

    static async Task RunOnServersAsync(JobState job, CaptionBatchOptions options)
    {
        var images = new LocalImages();
        // Each lane's calls carry a routing key of this run, so a balancer keeps a lane (its uploads and its stream) on
        // one replica and spreads the lanes.
        string run = Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(4));
        var lanes = options.Servers.SelectMany((s, i) => Enumerable.Range(1, options.Streams).Select(k =>
            new ServerLane(job, images, s, options.Streams > 1 ? $"{s}#{k}" : s, $"cb-{run}-{i}-{k}"))).ToArray();
        try
        {
            await Task.WhenAll(lanes.Select(l => l.RunAsync())).ConfigureAwait(false);
        }
        finally
        {
            foreach (var lane in lanes) lane.Dispose();
        }
    }

    static async Task RunInProcessAsync(JobState job, CaptionBatchOptions options)
    {
        RegionChatCore core;
        ModelDescription model;
        try
        {
            core = RegionChatCore.ForModelFolder(options.ModelDir!, new RegionChatCoreOptions
            {
                Threads = options.Threads,
                ContextSize = options.ContextSize,
                ParallelSequences = options.Concurrency,
                QueueSize = options.Concurrency,
                // Every item is a new image or region: a cache would only hold memory.
                VisualCacheBytes = 0,
                MaxTokensLimit = Math.Max(options.MaxTokens, 4096),
            });
        }
        catch (ModelManifestException e)
        {
            job.Abort($"cannot load the model in {Path.GetFullPath(options.ModelDir!)}: {e.Message}", e, refused: true);
            return;
        }
        using (core)
        {
            try { model = await Task.Run(core.LoadDefaultModel).ConfigureAwait(false); }
            catch (Exception e) when (e is ModelManifestException or LlmEngineException or IOException or InvalidDataException)
            {
                job.Abort($"cannot load the model in {Path.GetFullPath(options.ModelDir!)}: {e.Message}", e, refused: true);
                return;
            }
            job.Log($"loaded {model.Id} ({model.VisualTokens} visual tokens, {options.Concurrency} parallel sequences, {options.Threads} threads)");
            await new InProcessCaptioner(job, core).RunAsync().ConfigureAwait(false);
        }
    }
}
