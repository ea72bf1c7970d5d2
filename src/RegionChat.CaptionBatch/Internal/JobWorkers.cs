namespace RegionChat.CaptionBatch.Internal;

/// <summary>Workers that take the job's items until the queue is done. Every item a worker takes ends resolved (its
/// handler records it, retries it or sets it aside) or the job stops: a handler that throws anything but the job's own
/// cancellation aborts the job, since the other workers would otherwise wait for that item forever.</summary>
internal static class JobWorkers
{
    public static Task RunAsync(JobState job, int count, Func<WorkItem, CancellationToken, Task> handle) =>
        Task.WhenAll(Enumerable.Range(0, count).Select(_ => Task.Run(() => WorkAsync(job, handle))));

    static async Task WorkAsync(JobState job, Func<WorkItem, CancellationToken, Task> handle)
    {
        var ct = job.Token;
        while (!ct.IsCancellationRequested)
        {
            WorkItem? item;
            try { item = await job.Queue.TakeAsync(ct).ConfigureAwait(false); }
            catch (OperationCanceledException) { return; }
            if (item == null) return;
            job.AddInFlight(1);
            try
            {
                await handle(item, ct).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                // Not the item's input as far as anything can tell (an engine failure, a bug): every item may fail alike.
                job.Abort($"the job failed on item '{item.Id}': {e.GetType().Name}: {e.Message}; rerun the same command to resume", e);
                return;
            }
            finally
            {
                job.AddInFlight(-1);
            }
        }
    }
}
