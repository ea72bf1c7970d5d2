using System.Threading.Channels;
using RegionChat.Data.Batch;

namespace RegionChat.CaptionBatch.Internal;

/// <summary>One input item on its way to a record, with the transient failures it has met so far.</summary>
internal sealed class WorkItem(BatchInputItem input)
{
    public BatchInputItem Input { get; } = input;
    public string Id => Input.Id;
    /// <summary>Transient failures so far (server gone, queue full, …); more than the job's retries makes it an error record.</summary>
    public int Failures;
}

/// <summary>
/// The job's items not yet recorded, shared by all workers (server lanes or in-process workers): a worker takes the
/// next item when it has room, so faster servers take more. An item stays "remaining" until it is resolved (written as
/// a caption or an error, or set aside for a rerun); an item handed back (<see cref="Requeue"/>) is taken again by whichever worker is free.
/// </summary>
internal sealed class WorkQueue : IDisposable
{
    readonly Channel<WorkItem> channel = Channel.CreateUnbounded<WorkItem>();
    readonly CancellationTokenSource finished = new();
    int remaining;

    public WorkQueue(IReadOnlyCollection<WorkItem> items)
    {
        foreach (var item in items) channel.Writer.TryWrite(item);
        remaining = items.Count;
        if (remaining == 0) Finish();
    }

    public int Remaining => Volatile.Read(ref remaining);

    /// <summary>Cancelled once every item is resolved: wakes workers that wait or back off.</summary>
    public CancellationToken Finished => finished.Token;

    public bool IsFinished => Remaining == 0;

    /// <summary>The next item; waits while every remaining item is in flight elsewhere; null when all are resolved.</summary>
    public async ValueTask<WorkItem?> TakeAsync(CancellationToken ct)
    {
        while (await channel.Reader.WaitToReadAsync(ct).ConfigureAwait(false))
            if (channel.Reader.TryRead(out var item)) return item;
        return null;
    }

    /// <summary>Hands an item back to be taken again, after <paramref name="delay"/>.</summary>
    public void Requeue(WorkItem item, TimeSpan delay, CancellationToken ct)
    {
        if (delay <= TimeSpan.Zero)
        {
            channel.Writer.TryWrite(item);
            return;
        }
        _ = Task.Delay(delay, ct).ContinueWith(_ => channel.Writer.TryWrite(item), CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }

    /// <summary>Marks one taken item as done with in this run (recorded, or set aside for a rerun).</summary>
    public void Resolve()
    {
        if (Interlocked.Decrement(ref remaining) == 0) Finish();
    }

    void Finish()
    {
        channel.Writer.TryComplete();
        finished.Cancel();
    }

    public void Dispose() => finished.Dispose();
}
