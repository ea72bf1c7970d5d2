using System.Net;
using Google.Protobuf;
using Grpc.Core;
using RegionChat.Server.Tests.OpenAi;
using PbV1 = RegionChat.Protos.V1;

namespace RegionChat.Server.Tests.Services;

/// <summary>An image over RegionChat:MaxImageBytes is refused in one wording, naming the setting, whichever way it came.</summary>
public class ImageLimitTests
{
    [Fact]
    public async Task TheSameOversizedImageIsRefusedInOneWordingNamingTheSettingOnEveryPath()
    {
        const int Limit = 4000;
        await using var host = await ServerHost.StartAsync(("MaxImageBytes", Limit.ToString()));
        byte[] image = TestImages.Noise(48, 3);
        Assert.True(image.Length > Limit);
        string exact = $"the image is {image.Length:N0} bytes, over the limit of {Limit:N0} bytes (RegionChat:MaxImageBytes)";

        var inline = await Calls.FailsAsync(() => Calls.DrainAsync(host.Client.Chat(Calls.Chat("hi", image), deadline: Calls.Deadline())));
        Assert.Equal(StatusCode.InvalidArgument, inline.StatusCode);
        Assert.Contains(exact, inline.Status.Detail);

        var put = await Calls.FailsAsync(() => host.Client.PutImageAsync(new PbV1.PutImageRequest { Data = ByteString.CopyFrom(image) }, deadline: Calls.Deadline()).ResponseAsync);
        Assert.Equal(StatusCode.InvalidArgument, put.StatusCode);
        Assert.Contains(exact, put.Status.Detail);

        var upload = await Calls.FailsAsync(async () =>
        {
            using var call = host.Client.UploadImage(deadline: Calls.Deadline());
            try
            {
                foreach (var chunk in image.Chunk(1000)) await call.RequestStream.WriteAsync(new PbV1.ImageChunk { Data = ByteString.CopyFrom(chunk) });
                await call.RequestStream.CompleteAsync();
            }
            // The server refuses as soon as the chunks pass the limit: a later write then fails (CANCELLED, or "the call
            // is complete"), and the call's own status is in the response.
            catch (Exception e) when (e is RpcException or InvalidOperationException) { }
            await call.ResponseAsync;
        });
        Assert.Equal(StatusCode.InvalidArgument, upload.StatusCode);
        Assert.Contains($"over the limit of {Limit:N0} bytes (RegionChat:MaxImageBytes)", upload.Status.Detail);
        Assert.Contains("the image is at least ", upload.Status.Detail);

        // An upload that announces its size (the client library does) is refused at once in PutImage's words.
        using (var client = new RegionChat.Client.RegionChatClient(host.Address))
        {
            byte[] large = [.. image, .. new byte[RegionChat.Client.RegionChatClient.PutImageBytes]]; // over PutImageBytes: streamed
            var stored = await Assert.ThrowsAsync<RegionChat.Client.RegionChatException>(() => client.StoreImageAsync(large));
            Assert.Equal("UploadImage", stored.Method);
            Assert.Equal(StatusCode.InvalidArgument, stored.StatusCode);
            Assert.Contains($"the image is {large.Length:N0} bytes, over the limit of {Limit:N0} bytes (RegionChat:MaxImageBytes)", stored.Detail);
        }

        // Chunks that do not add up to the announced size are refused.
        var mismatch = await Calls.FailsAsync(async () =>
        {
            using var call = host.Client.UploadImage(deadline: Calls.Deadline());
            await call.RequestStream.WriteAsync(new PbV1.ImageChunk { Data = ByteString.CopyFrom(image[..1000]), TotalBytes = 999 });
            await call.RequestStream.CompleteAsync();
            await call.ResponseAsync;
        });
        Assert.Equal(StatusCode.InvalidArgument, mismatch.StatusCode);
        Assert.Contains("total_bytes", mismatch.Status.Detail);

        using var http = OpenAiHttp.Http(host);
        var openAi = await OpenAiHttp.FailsAsync(http, OpenAiHttp.Body(4, OpenAiHttp.UserWithImage("hi", image)));
        Assert.Equal(HttpStatusCode.BadRequest, openAi.Status);
        Assert.Contains(exact, openAi.Message);
    }
}
