using Grpc.Core;
using RegionChat.TestSupport;
using PbV1 = RegionChat.Protos.V1;

namespace RegionChat.Server.Tests.Services;

/// <summary>Shared images in a folder every replica mounts (RegionChat:SessionStore:ImageFolder, issue 13.1), without
/// Redis: an image stored on one server is used by id on another, and the folder keeps to its byte budget and lifetime.</summary>
public class SharedImageFolderTests
{
    static Task<ServerHost> StartOnFolderAsync(string folder, params (string Key, string Value)[] more) =>
        ServerHost.StartAsync([("SessionStore:ImageFolder", folder), .. more]);

    static PbV1.ChatRequest ById(string imageId) =>
        new() { Message = new PbV1.UserMessage { Text = "hi", Image = new PbV1.ImageInput { ImageId = imageId } }, MaxTokens = 2 };

    [Fact]
    public async Task AnImageStoredOnOneServerIsUsedByIdOnAnother()
    {
        using var temp = new TempDir();
        string folder = temp.File("images");
        await using var a = await StartOnFolderAsync(folder);
        await using var b = await StartOnFolderAsync(folder);

        var stored = await a.Client.PutImageAsync(new PbV1.PutImageRequest { Data = TestImages.SceneBytes(41) }, deadline: Calls.Deadline());
        Assert.Single(Directory.GetFiles(folder, "*.img"));
        var onB = await b.Client.ChatAsync(ById(stored.ImageId));
        Assert.True(onB.Started.VisualTokens > 0);
        Assert.Equal((await a.Client.ChatAsync(ById(stored.ImageId))).Text, onB.Text);

        // An id no server stored is still NOT_FOUND.
        string unknown = "sha256:" + new string('0', 64);
        var e = await Calls.FailsAsync(() => Calls.DrainAsync(b.Client.Chat(ById(unknown), deadline: Calls.Deadline())));
        Assert.Equal(StatusCode.NotFound, e.StatusCode);
    }

    [Fact]
    public async Task TheFolderDropsTheOldestImagesOverItsBudgetAndExpiredOnes()
    {
        using var temp = new TempDir();
        string folder = temp.File("images");
        byte[] first = TestImages.Scene(42), second = TestImages.Scene(43), third = TestImages.Scene(44);
        // Room for two of the three images.
        long budget = first.Length + second.Length + Math.Min(first.Length, third.Length) / 2;
        await using var a = await StartOnFolderAsync(folder, ("SessionStore:ImageBytes", budget.ToString()), ("SessionStore:ImageSeconds", "60"));
        await using var b = await StartOnFolderAsync(folder);

        string Put(byte[] bytes) => a.Client.PutImage(new PbV1.PutImageRequest { Data = Google.Protobuf.ByteString.CopyFrom(bytes) },
            deadline: Calls.Deadline()).ImageId;
        string id1 = Put(first);
        File.SetLastWriteTimeUtc(Directory.GetFiles(folder, "*.img").Single(), DateTime.UtcNow.AddSeconds(-10)); // the oldest
        string id2 = Put(second);
        string id3 = Put(third);
        var files = Directory.GetFiles(folder, "*.img").Select(Path.GetFileName).ToArray();
        Assert.Equal(2, files.Length);
        Assert.DoesNotContain(id1.Replace(':', '-') + ".img", files);

        var gone = await Calls.FailsAsync(() => Calls.DrainAsync(b.Client.Chat(ById(id1), deadline: Calls.Deadline())));
        Assert.Equal(StatusCode.NotFound, gone.StatusCode);
        await b.Client.ChatAsync(ById(id2));

        // Past its lifetime (the file's time: when it was last stored) an image is gone for every reader.
        string third3 = Path.Combine(folder, id3.Replace(':', '-') + ".img");
        File.SetLastWriteTimeUtc(third3, DateTime.UtcNow.AddHours(-2));
        var expired = await Calls.FailsAsync(() => Calls.DrainAsync(b.Client.Chat(ById(id3), deadline: Calls.Deadline())));
        Assert.Equal(StatusCode.NotFound, expired.StatusCode);
        Assert.False(File.Exists(third3));
    }

    [Fact]
    public async Task TheFolderIsTrimmedOnceASixteenthOfItsBudgetWasWrittenNotOnEveryPut()
    {
        using var temp = new TempDir();
        string folder = temp.File("images");
        var images = Enumerable.Range(0, 5).Select(i => TestImages.Scene(140 + i)).ToArray();
        long budget = 16 * (images[1].Length + images[2].Length + images[3].Length) - 1;   // a sixteenth: just under 3 images
        await using var a = await StartOnFolderAsync(folder, ("SessionStore:ImageBytes", budget.ToString()), ("SessionStore:ImageSeconds", "60"));
        string Put(byte[] bytes) => a.Client.PutImage(new PbV1.PutImageRequest { Data = Google.Protobuf.ByteString.CopyFrom(bytes) },
            deadline: Calls.Deadline()).ImageId;

        Put(images[0]);   // the first put trims
        string expired = Path.Combine(folder, "sha256-" + new string('0', 64) + ".img");
        File.WriteAllBytes(expired, [1, 2, 3]);
        File.SetLastWriteTimeUtc(expired, DateTime.UtcNow.AddHours(-2));
        Put(images[1]);
        Put(images[2]);
        Assert.True(File.Exists(expired), "a trim ran before a sixteenth of the budget was written");
        Put(images[3]);
        Assert.False(File.Exists(expired), "no trim ran once a sixteenth of the budget was written");
    }
}
