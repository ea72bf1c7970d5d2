using System.Threading.Channels;
using RegionChat.Vision.Imaging;

namespace RegionChat.Inference;

/// <summary>
/// Runs vision encodes on one background thread, batching the requests that are waiting together (per model) into one
/// forward: under load, N concurrent requests cost one batched forward instead of N serial ones. The server shares one
/// across its requests; in-process caption batches use one per job. Two kinds of forward go through it: a turn's visual
/// tokens (<see cref="EncodeAsync(RegionChatModel, PreprocessedImage, int, CancellationToken)"/>) and the classifier's
/// pooled region features of classify and embed (<see cref="FeaturesAsync"/>), each batched with its own kind.
/// </summary>
public sealed class VisionBatcher : IDisposable
{
    /// <summary>Most images per forward by default. Small batches make a pipeline: the LLM engine (its own thread) prefills
    /// the first images while the tower encodes the next ones. On shapes-tiny, 8 stream items in flight on 2 cores, a cap
    /// of 3–4 answered 15–30 % more items/s than 16 (README, "Batch captioning"); a large tower gains little from batching.</summary>
    public const int DefaultMaxBatch = 3;
    public const int MaxBatchLimit = 256;

    /// <summary>Most images in one forward.</summary>
    public int MaxBatch { get; }

    /// <summary>A waiting image: <see cref="Tokens"/> for a turn, or <see cref="Features"/> for the classifier.</summary>
    sealed record Job(RegionChatModel Model, PreprocessedImage Input, int Budget, CancellationToken Ct, TaskCompletionSource<VisualTokens>? Tokens,
        TaskCompletionSource<float[]>? Features = null)
    {
        public void Cancel() { Tokens?.TrySetCanceled(Ct); Features?.TrySetCanceled(Ct); }
        public void Fail(Exception e) { Tokens?.TrySetException(e); Features?.TrySetException(e); }
    }

    /// <summary>The name of the thread that runs the forwards.</summary>
    public const string ThreadName = "vision-batcher";

    readonly Channel<Job> queue = Channel.CreateUnbounded<Job>(new UnboundedChannelOptions { SingleReader = true });
    readonly Thread loop;

    public VisionBatcher(int maxBatch = DefaultMaxBatch)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxBatch, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(maxBatch, MaxBatchLimit);
        MaxBatch = maxBatch;
        // A thread of its own, as the LLM engine has: a forward never holds a pool thread, and the thread's CPU time is
        // the tower's (bench batch reports both threads' share).
        loop = new Thread(Run) { IsBackground = true, Name = ThreadName };
        loop.Start();
    }

    /// <summary>Batches encoded so far, their items, the largest batch, and the jobs dropped because their caller had
    /// cancelled while they waited, for metrics and tests.</summary>
    public long Batches, Items, Dropped;
    public int LargestBatch;

    public Task<VisualTokens> EncodeAsync(RegionChatModel model, PreprocessedImage input, CancellationToken ct) => EncodeAsync(model, input, 0, ct);

    /// <summary>Encodes one input in the next batch, keeping <paramref name="visualTokenBudget"/> visual tokens (0 = all;
    /// <see cref="VisualTokenSelection"/>).</summary>
    public Task<VisualTokens> EncodeAsync(RegionChatModel model, PreprocessedImage input, int visualTokenBudget, CancellationToken ct)
    {
        if (ct.IsCancellationRequested) return Task.FromCanceled<VisualTokens>(ct);
        var done = new TaskCompletionSource<VisualTokens>(TaskCreationOptions.RunContinuationsAsynchronously);
        Enqueue(new Job(model, input, visualTokenBudget, ct, done));
        return done.Task.WaitAsync(ct);
    }

    /// <summary>The classifier's normalised pooled features of one input (<see cref="RegionChatModel.ImageFeatures"/>),
    /// computed in the next batch of such inputs.</summary>
    public Task<float[]> FeaturesAsync(RegionChatModel model, PreprocessedImage input, CancellationToken ct)
    {
        if (ct.IsCancellationRequested) return Task.FromCanceled<float[]>(ct);
        var done = new TaskCompletionSource<float[]>(TaskCreationOptions.RunContinuationsAsynchronously);
        Enqueue(new Job(model, input, 0, ct, null, done));
        return done.Task.WaitAsync(ct);
    }

    void Enqueue(Job job)
    {
        if (!queue.Writer.TryWrite(job)) throw new ObjectDisposedException(nameof(VisionBatcher));
    }

    void Run()
    {
        var pending = new List<Job>();
        while (queue.Reader.WaitToReadAsync().AsTask().GetAwaiter().GetResult())
        {
            pending.Clear();
            while (pending.Count < MaxBatch && queue.Reader.TryRead(out var job))
            {
                // A caller that gave up while its image waited (a client gone, a deadline) costs no forward: with a
                // large tower and a full queue, that would be seconds of encoding for nobody.
                if (job.Ct.IsCancellationRequested)
                {
                    job.Cancel();
                    Interlocked.Increment(ref Dropped);
                }
                else pending.Add(job);
            }
            foreach (var group in pending.GroupBy(j => (j.Model, Features: j.Features != null)))
            {
                var jobs = group.ToArray();
                var inputs = jobs.Select(j => j.Input).ToArray();
                try
                {
                    if (group.Key.Features)
                    {
                        var features = group.Key.Model.ImageFeatures(inputs);
                        for (int i = 0; i < jobs.Length; i++) jobs[i].Features!.TrySetResult(features[i]);
                    }
                    else
                    {
                        var tokens = group.Key.Model.EncodePreprocessed(inputs, jobs.Select(j => j.Budget).ToArray());
                        for (int i = 0; i < jobs.Length; i++) jobs[i].Tokens!.TrySetResult(tokens[i]);
                    }
                    Interlocked.Increment(ref Batches);
                    Interlocked.Add(ref Items, jobs.Length);
                    if (jobs.Length > LargestBatch) LargestBatch = jobs.Length;   // only this loop writes it
                }
                catch (Exception e)
                {
                    foreach (var j in jobs) j.Fail(e);
                }
            }
        }
    }

    public void Dispose()
    {
        queue.Writer.TryComplete();
        loop.Join(TimeSpan.FromSeconds(30));   // an encode in progress finishes
    }
}
