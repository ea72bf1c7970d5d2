using System.Text.Json;
using RegionChat.CaptionBatch.Internal;
using RegionChat.Data.Batch;

namespace RegionChat.CaptionBatch.Tests.Internal;

/// <summary>The job's shared queue: each item is taken once, a handed-back item is taken again, and the queue ends when
/// every item is resolved.</summary>
public class WorkQueueTests
{
    static readonly TimeSpan Long = TimeSpan.FromSeconds(10);

    static WorkItem Item(string id) =>
        new(new BatchInputItem(id, $"{id}.png", JsonDocument.Parse("""{"whole": true}""").RootElement.Clone(), null, 1));

    [Fact]
    public async Task EveryItemIsTakenOnceAndAHandedBackItemAgain()
    {
        using var queue = new WorkQueue([Item("a"), Item("b"), Item("c")]);
        var taken = new List<string>();
        for (int i = 0; i < 3; i++) taken.Add((await queue.TakeAsync(CancellationToken.None))!.Id);
        Assert.Equal(["a", "b", "c"], taken);
        Assert.Equal(3, queue.Remaining);

        // Every remaining item is in flight: a worker waits until one comes back.
        var waiting = queue.TakeAsync(CancellationToken.None).AsTask();
        await Task.Delay(100);
        Assert.False(waiting.IsCompleted);
        var b = Item("b");
        queue.Requeue(b, TimeSpan.Zero, CancellationToken.None);
        Assert.Same(b, await waiting.WaitAsync(Long));

        queue.Resolve();
        queue.Resolve();
        Assert.False(queue.IsFinished);
        Assert.False(queue.Finished.IsCancellationRequested);
        queue.Resolve();
        Assert.True(queue.IsFinished);
        Assert.True(queue.Finished.IsCancellationRequested);
        Assert.Null(await queue.TakeAsync(CancellationToken.None).AsTask().WaitAsync(Long));
    }

    [Fact]
    public async Task AnItemHandedBackWithADelayComesBackAfterIt()
    {
        using var queue = new WorkQueue([Item("a")]);
        var a = (await queue.TakeAsync(CancellationToken.None))!;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        queue.Requeue(a, TimeSpan.FromMilliseconds(300), CancellationToken.None);
        Assert.Same(a, await queue.TakeAsync(CancellationToken.None).AsTask().WaitAsync(Long));
        Assert.True(clock.ElapsedMilliseconds >= 250, $"back after {clock.ElapsedMilliseconds} ms");
    }

    [Fact]
    public async Task AnEmptyQueueIsFinishedAtOnce()
    {
        using var queue = new WorkQueue([]);
        Assert.True(queue.IsFinished);
        Assert.True(queue.Finished.IsCancellationRequested);
        Assert.Null(await queue.TakeAsync(CancellationToken.None));
    }
}
