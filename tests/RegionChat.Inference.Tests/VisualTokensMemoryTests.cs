using System.Runtime.InteropServices;
using RegionChat.TestSupport;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace RegionChat.Inference.Tests;

/// <summary>The visual-token cache bounds its bytes by each entry's size, so an entry must hold only its own tokens:
/// a slice of the whole batch's array would keep every item of the batch alive.</summary>
public class VisualTokensMemoryTests
{
    [Fact]
    public void EachItemOfABatchOwnsAnArrayOfItsOwnSize()
    {
        using var temp = new TempDir();
        using var model = RegionChatModel.Load(TinyModel.Write(temp.File("tiny")),
            new RegionChatModelOptions { ContextSize = 1024, Threads = 1, MaxSequences = 1 });
        using var a = new Image<Rgb24>(40, 30);
        using var b = new Image<Rgb24>(30, 40);
        var tokens = model.EncodeBatch([(a, null), (b, null)]);
        Assert.Equal(2, tokens.Count);
        foreach (var t in tokens)
        {
            Assert.True(MemoryMarshal.TryGetArray(t.Block.Data, out var segment));
            Assert.Equal(t.Count * t.Width, segment.Array!.Length);
            Assert.Equal(t.SizeBytes, (long)segment.Array.Length * sizeof(float));
        }
    }
}
