using RegionChat.Client.Internal;
using PbV1 = RegionChat.Protos.V1;

namespace RegionChat.Client.Tests;

/// <summary>The client's memory of stored images stays bounded: the oldest finished uploads are forgotten first.</summary>
public class ImageUploadsTests
{
    [Fact]
    public async Task PastItsCapacityTheOldestFinishedUploadsAreForgottenAndOneStillRunningIsKept()
    {
        var uploads = new ImageUploads(capacity: 8);
        var running = new TaskCompletionSource<PbV1.ImageRef>();
        var slow = uploads.GetOrUploadAsync("img-slow", () => running.Task, CancellationToken.None);
        int calls = 0;
        Task<PbV1.ImageRef> Upload(string id)
        {
            calls++;
            return Task.FromResult(new PbV1.ImageRef { ImageId = id });
        }
        for (int i = 0; i < 20; i++) await uploads.GetOrUploadAsync($"img-{i}", () => Upload($"img-{i}"), CancellationToken.None);

        var remembered = Enumerable.Range(0, 20).Where(i => uploads.Contains($"img-{i}")).ToArray();
        Assert.InRange(remembered.Length, 1, 8);
        Assert.Equal(Enumerable.Range(20 - remembered.Length, remembered.Length), remembered); // the newest ones
        Assert.Equal(20, calls);
        await uploads.GetOrUploadAsync("img-0", () => Upload("img-0"), CancellationToken.None); // forgotten: uploaded again
        Assert.Equal(21, calls);

        running.SetResult(new PbV1.ImageRef { ImageId = "img-slow" });
        await slow;
        Assert.True(uploads.Contains("img-slow")); // it was running through every eviction
    }
}
