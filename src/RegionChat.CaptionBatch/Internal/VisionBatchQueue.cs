using System.Threading.Channels;
using RegionChat.Inference;
using RegionChat.Vision.Imaging;

namespace RegionChat.CaptionBatch.Internal;

/// <summary>
/// In-process vision encodes on one loop: the inputs that wait together go through the tower as one batch, so N
/// parallel items cost one batched forward instead of N (as the server's vision batcher does).
/// </summary>
internal sealed class VisionBatchQueue : IDisposable
{
    const int MaxBatch = 16;

    readonly RegionChatModel model;
    readonly Channel<(PreprocessedImage Input, TaskCompletionSource<VisualTokens> Done)> queue =
        Channel.CreateUnbounded<(PreprocessedImage, TaskCompletionSource<VisualTokens>)>(new UnboundedChannelOptions { SingleReader = true });
    readonly Task loop;

    public VisionBatchQueue(RegionChatModel model)
    {
        this.model = model;
        loop = Task.Factory.StartNew(RunAsync, TaskCreationOptions.LongRunning).Unwrap();
    }

    public Task<VisualTokens> EncodeAsync(PreprocessedImage input, CancellationToken ct)
    {
        var done = new TaskCompletionSource<VisualTokens>(TaskCreationOptions.RunContinuationsAsynchronously);
        if (!queue.Writer.TryWrite((input, done))) throw new ObjectDisposedException(nameof(VisionBatchQueue));
        return done.Task.WaitAsync(ct);
    }

    async Task RunAsync()
    {
        var batch = new List<(PreprocessedImage Input, TaskCompletionSource<VisualTokens> Done)>();
        while (await queue.Reader.WaitToReadAsync().ConfigureAwait(false))
        {
            batch.Clear();
            while (batch.Count < MaxBatch && queue.Reader.TryRead(out var job)) batch.Add(job);
            try
            {
                var tokens = model.EncodePreprocessed(batch.Select(b => b.Input).ToArray());
                for (int i = 0; i < batch.Count; i++) batch[i].Done.TrySetResult(tokens[i]);
            }
            catch (Exception e)
            {
                foreach (var b in batch) b.Done.TrySetException(e);
            }
        }
    }

    public void Dispose()
    {
        queue.Writer.TryComplete();
        loop.Wait(TimeSpan.FromSeconds(30));
    }
}
