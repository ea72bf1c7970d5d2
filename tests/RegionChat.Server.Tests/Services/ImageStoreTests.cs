using System.Security.Cryptography;
using Google.Protobuf;
using Grpc.Core;
using RegionChat.Client;
using PbV1 = RegionChat.Protos.V1;

namespace RegionChat.Server.Tests.Services;

/// <summary>PutImage and UploadImage store images by content id; chats refer to them by id.</summary>
public class ImageStoreTests
{
    [Fact]
    public async Task AnUploadRefusedWhileTheClientIsStillWritingReportsTheServersStatus()
    {
        // The server refuses before it has read everything, so the client is mid-write (often blocked on HTTP/2 flow
        // control) when the call ends: the write must surface the server's status, not a bare CANCELLED.
        await using var host = await ServerHost.StartAsync(new Dictionary<string, string?>
        {
            ["RegionChat:MaxImageBytes"] = "16384", ["RegionChat:ApiKeys:0"] = "k1",
        });
        var chunk = new PbV1.ImageChunk { Data = ByteString.CopyFrom(new byte[4096]) };
        async Task UploadAsync(Metadata? headers)
        {
            using var call = host.Client.UploadImage(headers, Calls.Deadline());
            for (int i = 0; i < 400; i++) await call.WriteAsync(chunk);
            await call.RequestStream.CompleteAsync();
            await call.ResponseAsync;
        }
        for (int attempt = 0; attempt < 5; attempt++)
        {
            Assert.Equal(StatusCode.Unauthenticated, (await Calls.FailsAsync(() => UploadAsync(null))).StatusCode);
            var tooBig = await Calls.FailsAsync(() => UploadAsync(ServerHost.Bearer("k1")));
            Assert.Equal(StatusCode.InvalidArgument, tooBig.StatusCode);
            Assert.Contains("16384", tooBig.Status.Detail.Replace(",", ""));
        }
    }

    [Fact]
    public async Task PutAndUploadReturnTheContentIdAndSizeAndChatsUseIt()
    {
        await using var host = await ServerHost.StartAsync();
        var bytes = TestImages.Mask(80, 48, 10, 10, 30, 30); // not square, so width and height cannot be swapped unnoticed
        string expectedId = "sha256:" + Convert.ToHexStringLower(SHA256.HashData(bytes));

        var put = await host.Client.PutImageAsync(new PbV1.PutImageRequest { Data = ByteString.CopyFrom(bytes) }, deadline: Calls.Deadline());
        Assert.Equal(expectedId, put.ImageId);
        Assert.Equal(80u, put.Width);
        Assert.Equal(48u, put.Height);
        Assert.Equal((ulong)bytes.Length, put.SizeBytes);

        using (var call = host.Client.UploadImage(deadline: Calls.Deadline()))
        {
            foreach (var chunk in bytes.Chunk(100)) await call.RequestStream.WriteAsync(new PbV1.ImageChunk { Data = ByteString.CopyFrom(chunk) });
            await call.RequestStream.CompleteAsync();
            Assert.Equal(put, await call.ResponseAsync);
        }

        // Chat by id (with or without the prefix, any case of hex) answers as chat by bytes does.
        var scene = TestImages.Scene(41);
        var sceneRef = await host.Client.PutImageAsync(new PbV1.PutImageRequest { Data = ByteString.CopyFrom(scene) }, deadline: Calls.Deadline());
        var byBytes = await host.Client.ChatAsync(Calls.Chat("what is this?", scene, Calls.Box(0, 0, 20, 64)));
        foreach (var id in new[] { sceneRef.ImageId, sceneRef.ImageId["sha256:".Length..].ToUpperInvariant() })
        {
            var request = Calls.Chat("what is this?", region: Calls.Box(0, 0, 20, 64));
            request.Message.Image = new PbV1.ImageInput { ImageId = id };
            var byId = await host.Client.ChatAsync(request);
            Assert.Equal(16u, byId.Started.VisualTokens);
            Assert.Equal(byBytes.Text, byId.Text);
        }

        var unknown = Calls.Chat("what is this?");
        unknown.Message.Image = new PbV1.ImageInput { ImageId = "sha256:" + new string('a', 64) };
        var e = await Calls.FailsAsync(() => Calls.DrainAsync(host.Client.Chat(unknown, deadline: Calls.Deadline())));
        Assert.Equal(StatusCode.NotFound, e.StatusCode);
        Assert.Contains("upload it again", e.Status.Detail);
    }

    [Fact]
    public async Task TheImageStoreDropsLeastRecentlyUsedImagesWithinItsBudget()
    {
        // A budget for about two scenes: the first of three is dropped and then unknown.
        await using var host = await ServerHost.StartAsync(("ImageStoreBytes", (2 * TestImages.Scene(51).Length + 1024).ToString()));
        var refs = new List<PbV1.ImageRef>();
        foreach (var seed in new long[] { 51, 52, 53 })
            refs.Add(await host.Client.PutImageAsync(new PbV1.PutImageRequest { Data = ByteString.CopyFrom(TestImages.Scene(seed)) }, deadline: Calls.Deadline()));
        var request = Calls.Chat("what is this?");
        request.Message.Image = new PbV1.ImageInput { ImageId = refs[0].ImageId };
        var e = await Calls.FailsAsync(() => Calls.DrainAsync(host.Client.Chat(request, deadline: Calls.Deadline())));
        Assert.Equal(StatusCode.NotFound, e.StatusCode);
        request.Message.Image.ImageId = refs[2].ImageId;
        Assert.Equal(16u, (await host.Client.ChatAsync(request)).Started.VisualTokens);
    }
}
