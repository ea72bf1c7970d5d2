using RegionChat.TestSupport;
using TorchSharp;

namespace RegionChat.Inference.Tests;

/// <summary>A load that fails half way leaves nothing behind: the parts made before the failure are disposed.</summary>
public class RegionChatModelLoadTests
{
    static readonly RegionChatModelOptions Options = new() { ContextSize = 1024, Threads = 1, MaxSequences = 1 };

    // TorchSharp counts the tensors this thread made and disposed (a module's parameters are tensors), so a vision tower
    // or projector left undisposed shows as live tensors. Per thread: tests running beside this one do not count.
    static long LiveTensors => DisposeScopeManager.Statistics.ThreadTotalLiveCount;

    /// <summary>Tensors still live after <paramref name="load"/>: what a load and dispose of the whole model leaves (the
    /// towers' construction makes a few temporaries that wait for the GC), and more for every part left undisposed.</summary>
    static long LeftBehind(Action load)
    {
        long before = LiveTensors;
        load();
        return LiveTensors - before;
    }

    static long WholeModelLeftBehind(string dir)
    {
        long held = 0;
        long left = LeftBehind(() =>
        {
            long before = LiveTensors;
            using var model = RegionChatModel.Load(dir, Options);
            held = LiveTensors - before;
        });
        // The counter sees the model: its weights are live while it is loaded, and gone once it is disposed.
        Assert.True(held > left + 20, $"a loaded model holds {held} tensors, {left} are left after its disposal");
        return left;
    }

    [Fact]
    public void ALoadThatFailsAtTheLlmDisposesTheVisionTowerAndProjector()
    {
        using var temp = new TempDir();
        string dir = TinyModel.Write(temp.File("tiny"));
        long whole = WholeModelLeftBehind(dir);

        // The vision tower and projector load; the LLM file is not a GGUF.
        File.WriteAllText(Path.Combine(dir, "llm.gguf"), "this is not a GGUF file");
        Assert.Equal(whole, LeftBehind(() =>
        {
            var e = Assert.Throws<InvalidDataException>(() => RegionChatModel.Load(dir, Options));
            Assert.Contains("llm.gguf", e.Message);
        }));
    }

    [Fact]
    public void ALoadThatFailsAfterTheLlmDisposesEveryPart()
    {
        using var temp = new TempDir();
        string dir = TinyModel.Write(temp.File("tiny"));
        long whole = WholeModelLeftBehind(dir);

        // The GGUF's own chat template, which the tiny GGUF does not have: the load fails after every part is made.
        string manifest = File.ReadAllText(Path.Combine(dir, "model.json"));
        File.WriteAllText(Path.Combine(dir, "model.json"), manifest.Replace("\"llava_v1\"", "\"gguf\""));
        Assert.Equal(whole, LeftBehind(() =>
        {
            var e = Assert.Throws<InvalidOperationException>(() => RegionChatModel.Load(dir, Options));
            Assert.Contains("no tokenizer.chat_template", e.Message);
        }));
    }
}
