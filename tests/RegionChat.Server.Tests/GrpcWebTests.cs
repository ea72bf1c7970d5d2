using System.Net;
using Grpc.Net.Client;
using Grpc.Net.Client.Web;
using RegionChat.Server.Tests.OpenAi;
using PbV1 = RegionChat.Protos.V1;

namespace RegionChat.Server.Tests;

/// <summary>gRPC-Web on the HTTP/1.1 listener (what browsers speak), and its CORS policy.</summary>
public class GrpcWebTests
{
    static GrpcChannel WebChannel(ServerHost host, GrpcWebMode mode) => GrpcChannel.ForAddress(host.HttpAddress, new GrpcChannelOptions
    {
        HttpHandler = new GrpcWebHandler(mode, new HttpClientHandler()),
        HttpVersion = HttpVersion.Version11,
        HttpVersionPolicy = HttpVersionPolicy.RequestVersionExact,
        MaxReceiveMessageSize = 64 << 20,
    });

    [Theory]
    [InlineData(GrpcWebMode.GrpcWebText)]
    [InlineData(GrpcWebMode.GrpcWeb)]
    public async Task ChatStreamsOverGrpcWebAndAnswersAsNativeGrpc(GrpcWebMode mode)
    {
        await using var host = await ServerHost.StartAsync();
        using var channel = WebChannel(host, mode);
        var web = new PbV1.RegionChat.RegionChatClient(channel);
        var scene = TestImages.Scene(331);

        var native = await host.Client.ChatAsync(Calls.Chat("what is here?", scene, Calls.Box(4, 4, 40, 40), maxTokens: 10));
        var overWeb = await web.ChatAsync(Calls.Chat("what is here?", scene, Calls.Box(4, 4, 40, 40), maxTokens: 10));
        Assert.Equal(native.Text, overWeb.Text);
        Assert.True(overWeb.Events.Count >= 3, "the answer did not arrive as a stream of events");
        Assert.True(overWeb.Finished.Timings.VisualCacheHit); // same cache as native gRPC

        // The other calls a browser page makes: PutImage, then Caption by image id, and ListModels.
        var stored = await web.PutImageAsync(new PbV1.PutImageRequest { Data = Google.Protobuf.ByteString.CopyFrom(scene) }, deadline: Calls.Deadline());
        Assert.Equal(64u, stored.Width);
        var caption = await web.CaptionAsync(new PbV1.CaptionRequest { Image = new() { ImageId = stored.ImageId }, Region = Calls.Box(4, 4, 40, 40), Instruction = "what is here?", MaxTokens = 10 }, deadline: Calls.Deadline());
        Assert.Equal(native.Text, caption.Text);
        var models = await web.ListModelsAsync(new PbV1.ListModelsRequest(), deadline: Calls.Deadline());
        Assert.Equal("tiny", Assert.Single(models.Models).Id);

        // Errors keep their status over gRPC-Web.
        var e = await Calls.FailsAsync(() => Calls.DrainAsync(web.Chat(Calls.Chat("hi", sessionId: "s-nope"), deadline: Calls.Deadline())));
        Assert.Equal(Grpc.Core.StatusCode.NotFound, e.StatusCode);
    }

    [Theory]
    [InlineData(GrpcWebMode.GrpcWebText)]
    [InlineData(GrpcWebMode.GrpcWeb)]
    public async Task ClientStreamingCallsOverGrpcWebAreUnimplementedWithTheReasonAndTheUnaryAlternative(GrpcWebMode mode)
    {
        await using var host = await ServerHost.StartAsync();
        using var channel = WebChannel(host, mode);
        var web = new PbV1.RegionChat.RegionChatClient(channel);
        var scene = TestImages.Scene(331);

        var upload = await Calls.FailsAsync(async () =>
        {
            using var call = web.UploadImage(deadline: Calls.Deadline());
            await call.RequestStream.WriteAsync(new PbV1.ImageChunk { Data = Google.Protobuf.ByteString.CopyFrom(scene) });
            await call.RequestStream.CompleteAsync();
            await call.ResponseAsync;
        });
        Assert.Equal(Grpc.Core.StatusCode.Unimplemented, upload.StatusCode);
        Assert.Contains("HTTP/2", upload.Status.Detail);
        Assert.Contains("PutImage", upload.Status.Detail);

        var stream = await Calls.FailsAsync(async () =>
        {
            using var call = web.CaptionStream(deadline: Calls.Deadline());
            await call.RequestStream.WriteAsync(new PbV1.CaptionStreamRequest
            {
                Id = "1",
                Request = new PbV1.CaptionRequest { Image = new() { Data = Google.Protobuf.ByteString.CopyFrom(scene) }, MaxTokens = 4 },
            });
            await call.RequestStream.CompleteAsync();
            while (await call.ResponseStream.MoveNext(CancellationToken.None)) { }
        });
        Assert.Equal(Grpc.Core.StatusCode.Unimplemented, stream.StatusCode);
        Assert.Contains("HTTP/2", stream.Status.Detail);
        Assert.Contains("Caption (unary)", stream.Status.Detail);

        // The same calls over native gRPC (HTTP/2) work.
        using (var call = host.Client.UploadImage(deadline: Calls.Deadline()))
        {
            await call.RequestStream.WriteAsync(new PbV1.ImageChunk { Data = Google.Protobuf.ByteString.CopyFrom(scene) });
            await call.RequestStream.CompleteAsync();
            Assert.Equal(64u, (await call.ResponseAsync).Width);
        }
    }

    [Fact]
    public async Task TheApiKeyGuardsGrpcWebToo()
    {
        await using var host = await ServerHost.StartAsync(new Dictionary<string, string?> { ["RegionChat:ApiKeys:0"] = "k" });
        using var channel = WebChannel(host, GrpcWebMode.GrpcWebText);
        var web = new PbV1.RegionChat.RegionChatClient(channel);
        var e = await Calls.FailsAsync(() => web.ListModelsAsync(new PbV1.ListModelsRequest(), deadline: Calls.Deadline()).ResponseAsync);
        Assert.Equal(Grpc.Core.StatusCode.Unauthenticated, e.StatusCode);
        var ok = await web.ListModelsAsync(new PbV1.ListModelsRequest(), ServerHost.Bearer("k"), Calls.Deadline());
        Assert.Single(ok.Models);
    }

    static HttpRequestMessage Preflight(string path, string origin, string headers) => new(HttpMethod.Options, path)
    {
        Headers =
        {
            { "Origin", origin },
            { "Access-Control-Request-Method", "POST" },
            { "Access-Control-Request-Headers", headers },
        },
    };

    [Fact]
    public async Task CorsAllowsOnlyTheConfiguredOriginsAndExposesTheGrpcStatus()
    {
        const string page = "http://page.example:3000";
        await using var host = await ServerHost.StartAsync(new Dictionary<string, string?> { ["RegionChat:Cors:AllowedOrigins:0"] = page });
        using var http = OpenAiHttp.Http(host);

        foreach (var (path, headers) in new[] { ("/regionchat.v1.RegionChat/Chat", "x-grpc-web,content-type,x-user-agent"), ("/v1/chat/completions", "authorization,content-type") })
        {
            using var allowed = await http.SendAsync(Preflight(path, page, headers));
            Assert.True(allowed.IsSuccessStatusCode, $"{path}: preflight answered {(int)allowed.StatusCode}");
            Assert.Equal(page, allowed.Headers.GetValues("Access-Control-Allow-Origin").Single());
            string allowHeaders = string.Join(",", allowed.Headers.GetValues("Access-Control-Allow-Headers"));
            foreach (var h in headers.Split(',')) Assert.Contains(h, allowHeaders, StringComparison.OrdinalIgnoreCase);

            using var other = await http.SendAsync(Preflight(path, "http://evil.example", headers));
            Assert.False(other.Headers.Contains("Access-Control-Allow-Origin"), $"{path}: another origin was allowed");
        }

        // A real gRPC-Web call from the page's origin: the status headers are readable by the page's script.
        using var call = new HttpRequestMessage(HttpMethod.Post, "/regionchat.v1.RegionChat/ListModels")
        {
            Content = new ByteArrayContent([0, 0, 0, 0, 0]), // one uncompressed, empty ListModelsRequest frame
            Headers = { { "Origin", page }, { "X-Grpc-Web", "1" } },
        };
        call.Content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/grpc-web");
        using var response = await http.SendAsync(call);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(page, response.Headers.GetValues("Access-Control-Allow-Origin").Single());
        string exposed = string.Join(",", response.Headers.GetValues("Access-Control-Expose-Headers"));
        Assert.Contains("grpc-status", exposed);
        Assert.Contains("grpc-message", exposed);
        // A page elsewhere reads when to retry (429, 503) and why it was refused (401).
        Assert.Contains("retry-after", exposed);
        Assert.Contains("www-authenticate", exposed);
    }

    [Fact]
    public async Task WithoutConfiguredOriginsNoCrossOriginPageIsAllowed()
    {
        await using var host = await ServerHost.StartAsync();
        using var http = OpenAiHttp.Http(host);
        using var preflight = await http.SendAsync(Preflight("/regionchat.v1.RegionChat/Chat", "http://page.example", "x-grpc-web,content-type"));
        Assert.False(preflight.Headers.Contains("Access-Control-Allow-Origin"));
    }
}
