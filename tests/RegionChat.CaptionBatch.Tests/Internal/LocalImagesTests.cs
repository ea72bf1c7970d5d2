using RegionChat.CaptionBatch.Internal;
using RegionChat.Inference;
using RegionChat.TestSupport;

namespace RegionChat.CaptionBatch.Tests.Internal;

/// <summary>Image files are known by the content id the server computes, hashed once per path; unusable files say why.</summary>
public class LocalImagesTests
{
    [Fact]
    public async Task IdenticalFilesHaveTheServersContentId()
    {
        using var temp = new TempDir();
        byte[] bytes = [1, 2, 3, 4, 5];
        File.WriteAllBytes(temp.File("a.png"), bytes);
        File.WriteAllBytes(temp.File("copy.png"), bytes);
        File.WriteAllBytes(temp.File("other.png"), [9]);
        int opens = 0;
        var images = new LocalImages(p => { Interlocked.Increment(ref opens); return File.OpenRead(p); });

        var a = await images.GetAsync(temp.File("a.png"));
        Assert.Null(a.Error);
        Assert.Equal(RegionChatCore.ImageIdOf(bytes), a.ContentId);
        Assert.Equal(bytes.Length, a.Length);
        Assert.Equal(a.ContentId, (await images.GetAsync(temp.File("copy.png"))).ContentId);
        Assert.NotEqual(a.ContentId, (await images.GetAsync(temp.File("other.png"))).ContentId);
        // One hash per path, however many items use it.
        await Task.WhenAll(images.GetAsync(temp.File("a.png")), images.GetAsync(temp.File("a.png")));
        Assert.Equal(3, opens);
    }

    [Fact]
    public async Task AMissingOrEmptyFileIsAnError()
    {
        using var temp = new TempDir();
        File.WriteAllBytes(temp.File("empty.png"), []);
        var images = new LocalImages();

        var missing = await images.GetAsync(temp.File("missing.png"));
        Assert.Null(missing.ContentId);
        Assert.Equal($"image: file '{temp.File("missing.png")}' not found", missing.Error);
        var empty = await images.GetAsync(temp.File("empty.png"));
        Assert.Null(empty.ContentId);
        Assert.Equal($"image: file '{temp.File("empty.png")}' is empty", empty.Error);
    }

    [Fact]
    public async Task AFailedReadIsTransientAndReadAgainWhileAMissingOrForbiddenFileIsNot()
    {
        using var temp = new TempDir();
        string path = temp.File("scene.png");
        File.WriteAllBytes(path, [1, 2, 3, 4]);
        int opens = 0;
        var images = new LocalImages(p => ++opens == 1 ? throw new IOException("Input/output error") : File.OpenRead(p));

        var first = await images.GetAsync(path);
        Assert.True(first.Transient);
        Assert.Contains("Input/output error", first.Error);
        var second = await images.GetAsync(path); // read again, not the remembered failure
        Assert.Null(second.Error);
        Assert.StartsWith("sha256:", second.ContentId);
        Assert.Equal(2, opens);

        Assert.False((await images.GetAsync(temp.File("gone.png"))).Transient);
        Assert.False(LocalImages.IsTransient(new FileNotFoundException("gone")));
        Assert.False(LocalImages.IsTransient(new UnauthorizedAccessException("forbidden")));
    }
}
