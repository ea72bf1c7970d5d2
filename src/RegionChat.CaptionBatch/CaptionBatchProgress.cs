namespace RegionChat.CaptionBatch;

/// <summary>Where a running job stands: reported after every finished item (and, with
/// <see cref="CaptionBatchOptions.ProgressInterval"/>, that often while the job runs).</summary>
/// <param name="Total">Items in the input (in the job's shard, when it has one).</param>
/// <param name="Skipped">Items whose id was already in the output (or errors) file when the job started.</param>
/// <param name="Captioned">Items captioned by this run.</param>
/// <param name="Failed">Items that became error records in this run.</param>
/// <param name="Elapsed">Time since this run started captioning.</param>
public sealed record CaptionBatchProgress(int Total, int Skipped, int Captioned, int Failed, TimeSpan Elapsed)
{
    /// <summary>Items finished by this run.</summary>
    public int Done => Captioned + Failed;
    /// <summary>Items this run still has to finish.</summary>
    public int Remaining => Total - Skipped - Done;
    /// <summary>Items this run has to finish in all.</summary>
    public int ToDo => Total - Skipped;

    /// <summary>Of the <see cref="Remaining"/>, items this run set aside unrecorded: their transient failures (server
    /// overloaded or gone, a broken call) outlasted the retries, which says nothing about the item, so a rerun does them.</summary>
    public int SetAside { get; init; }

    /// <summary>Of the <see cref="Remaining"/>, items sent to a server (or running in-process) and not answered yet.</summary>
    public int InFlight { get; init; }

    /// <summary>Of the <see cref="Remaining"/>, items neither in flight nor set aside: queued, or waiting out a backoff
    /// before they are sent again.</summary>
    public int Waiting { get; init; }

    /// <summary>Time since an item last finished (or since the run started, before the first): a stall shows here.</summary>
    public TimeSpan SinceLastFinished { get; init; }

    /// <summary>Items per second finished by this run.</summary>
    public double ItemsPerSecond => Elapsed.TotalSeconds > 0 ? Done / Elapsed.TotalSeconds : 0;

    /// <summary>Time to finish at the rate so far; null before the first item.</summary>
    public TimeSpan? Eta => Done > 0 && ItemsPerSecond > 0 ? TimeSpan.FromSeconds((Remaining - SetAside) / ItemsPerSecond) : null;
}

/// <summary>What one server did during the job.</summary>
/// <param name="Address">The server's address as given.</param>
/// <param name="Captioned">Items it captioned.</param>
/// <param name="Failed">Items it rejected (INVALID_ARGUMENT and the like), which became error records.</param>
/// <param name="Requeued">Items handed back to the queue after a transient failure on it (they went to a server again).</param>
/// <param name="Uploads">Distinct images uploaded to it (PutImage / UploadImage).</param>
/// <param name="Failures">Times its stream or connection failed.</param>
/// <param name="Down">Whether it was unreachable when the job ended.</param>
/// <param name="LastError">Its last connection or stream error, if any.</param>
public sealed record CaptionBatchServerSummary(string Address, int Captioned, int Failed, int Requeued, int Uploads, int Failures,
    bool Down, string? LastError);

/// <summary>The outcome of a job run.</summary>
/// <param name="Progress">The final counts.</param>
/// <param name="PriorErrors">Error records already in the output/errors files when the job started (their ids were skipped).</param>
/// <param name="RepairedBytes">Bytes of torn last lines removed from the output and errors files when they were opened.</param>
/// <param name="Models">The model ids that answered.</param>
/// <param name="Servers">Per-server figures (empty in-process).</param>
public sealed record CaptionBatchSummary(
    CaptionBatchProgress Progress, int PriorErrors, long RepairedBytes, IReadOnlyList<string> Models,
    IReadOnlyList<CaptionBatchServerSummary> Servers, string OutputPath, string? ErrorsPath)
{
    /// <summary>The shard the job captioned (<see cref="CaptionBatchShard.All"/> when the input was not split); the
    /// progress counts are the shard's items.</summary>
    public CaptionBatchShard Shard { get; init; } = CaptionBatchShard.All;

    /// <summary>Whether the job's files hold any error record for its items (from this run or an earlier one).</summary>
    public bool AnyFailed => Progress.Failed > 0 || PriorErrors > 0;

    /// <summary>Whether every item of the input has a record (the job was not stopped early).</summary>
    public bool Complete => Progress.Remaining == 0;
}

/// <summary>The job stopped before finishing: every server is unreachable, a server refused the API key, the output
/// could not be written, or the model failed to load. Every record written so far stays; rerunning resumes.</summary>
public sealed class CaptionBatchAbortedException(string message, CaptionBatchSummary summary, Exception? inner = null, bool refused = false,
    bool outputFailed = false)
    : Exception(message, inner)
{
    /// <summary>A record could not be written (a full disk, a file past its size limit, an I/O error): a rerun resumes,
    /// but only once the cause is fixed, so scripts that rerun on failure should not simply loop.</summary>
    public bool OutputFailed { get; } = outputFailed;

    /// <summary>The job itself was refused (an API key, labels or a model it cannot use, a max tokens or instruction the
    /// server refuses, an output of another model): a rerun of the same command stops the same way; the others (no server
    /// reachable, …) may go on when rerun.</summary>
    public bool Refused { get; } = refused;

    /// <summary>The counts up to the stop.</summary>
    public CaptionBatchSummary Summary { get; } = summary;
}
