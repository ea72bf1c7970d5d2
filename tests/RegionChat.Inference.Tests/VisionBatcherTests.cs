using RegionChat.Data.Shapes;
using RegionChat.Vision.Imaging;
using RegionChat.Vision.Regions;

namespace RegionChat.Inference.Tests;

/// <summary>The batcher's queue: images whose caller cancelled while they waited are dropped, not encoded; classifier
/// features waiting together share a forward, apart from a turn's visual tokens.</summary>
public class VisionBatcherTests(TinyModelFixture fixture) : IClassFixture<TinyModelFixture>
{
    PreprocessedImage Input(long seed)
    {
        var scene = ShapesGenerator.Generate(seed);
        var mask = new MaskRegion(64, 64, scene.Objects[0].VisibleMask.Select(v => (byte)(v * 255)).ToArray());
        return fixture.Model.Preprocess(scene.ToImage(), mask);
    }

    [Fact]
    public async Task JobsCancelledWhileWaitingAreDroppedBeforeTheForward()
    {
        var model = fixture.Model;
        using var batcher = new VisionBatcher(maxBatch: 1);
        using var gone = new CancellationTokenSource();
        Task<VisualTokens> first;
        var waiting = new List<Task<VisualTokens>>();
        // Holding the tower's gate keeps the first forward from running, so the others are still queued when their
        // caller cancels (one image per batch: the loop can have taken only the first).
        using (model.VisionGate.EnterScope())
        {
            first = batcher.EncodeAsync(model, Input(1), CancellationToken.None);
            for (int i = 0; i < 5; i++) waiting.Add(batcher.EncodeAsync(model, Input(2 + i), gone.Token));
            gone.Cancel();
        }
        Assert.Equal(model.VisualTokenCount, (await first).Count);
        foreach (var t in waiting) await Assert.ThrowsAnyAsync<OperationCanceledException>(() => t);
        // One more image goes through after them, so the loop has passed the dropped ones when the counters are read.
        Assert.Equal(model.VisualTokenCount, (await batcher.EncodeAsync(model, Input(9), CancellationToken.None)).Count);
        Assert.Equal(2, batcher.Items);
        Assert.Equal(5, batcher.Dropped);
    }

    [Fact]
    public async Task AnAlreadyCancelledCallerIsNotQueued()
    {
        using var batcher = new VisionBatcher();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() =>
            batcher.EncodeAsync(fixture.Model, Input(1), new CancellationToken(canceled: true)));
        Assert.Equal(0, batcher.Items + batcher.Dropped);
    }

    [Fact]
    public async Task ClassifierFeaturesWaitingTogetherShareAForwardApartFromATurnsTokens()
    {
        var model = fixture.Model;
        using var batcher = new VisionBatcher(maxBatch: 8);
        var inputs = Enumerable.Range(0, 4).Select(i => Input(20 + i)).ToArray();
        Task<float[]>[] features;
        Task<VisualTokens> tokens;
        // Held, the gate keeps the loop at its first forward while the rest queue up behind it.
        using (model.VisionGate.EnterScope())
        {
            features = inputs.Select(input => batcher.FeaturesAsync(model, input, CancellationToken.None)).ToArray();
            tokens = batcher.EncodeAsync(model, Input(30), CancellationToken.None);
        }
        var got = await Task.WhenAll(features);
        Assert.Equal(model.VisualTokenCount, (await tokens).Count);
        // At most: the first feature alone, the other features together, the turn's tokens: 3 forwards for 5 images.
        Assert.Equal(5, batcher.Items);
        Assert.InRange(batcher.Batches, 2, 3);
        for (int i = 0; i < inputs.Length; i++)
        {
            var alone = model.ImageFeatures([inputs[i]])[0];
            Assert.All(alone.Zip(got[i]), p => Assert.Equal(p.First, p.Second, 1e-4f));
        }
    }
}
