using Grpc.Core;
using RegionChat.Server.Tests.OpenAi;
using PbV1 = RegionChat.Protos.V1;

namespace RegionChat.Server.Tests.Services;

/// <summary>A caller's x-request-id becomes the call's request id (trailer, ChatStarted, /v1 header); an unusable one is
/// replaced by the server's own.</summary>
public class RequestIdTests
{
    static async Task<(string Trailer, string InStarted)> ChatWithIdAsync(ServerHost host, string? id)
    {
        var headers = new Metadata();
        if (id != null) headers.Add("x-request-id", id);
        using var call = host.Client.Chat(Calls.Chat("hi", TestImages.Scene(96), maxTokens: 2), headers, Calls.Deadline());
        PbV1.ChatStarted? started = null;
        await foreach (var e in call.ResponseStream.ReadAllAsync()) started = e.Started ?? started;
        return (call.GetTrailers().GetValue("x-request-id")!, started!.RequestId);
    }

    [Fact]
    public async Task TheCallersIdIsTheRequestIdOverGrpcAndV1()
    {
        await using var host = await ServerHost.StartAsync();
        var (trailer, inStarted) = await ChatWithIdAsync(host, "edge-7f3a:0001");
        Assert.Equal("edge-7f3a:0001", trailer);
        Assert.Equal("edge-7f3a:0001", inStarted);

        using var http = OpenAiHttp.Http(host);
        using var request = OpenAiHttp.Post(OpenAiHttp.Body(2, OpenAiHttp.Message("user", "hi")).ToJsonString());
        request.Headers.Add("x-request-id", "edge-7f3a:0002");
        using var response = await http.SendAsync(request);
        Assert.Equal(System.Net.HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("edge-7f3a:0002", Assert.Single(response.Headers.GetValues("x-request-id")));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("has space")]
    [InlineData("x")] // padded below to one past the limit
    public async Task WithoutAUsableIdTheServerMakesOne(string? id)
    {
        if (id == "x") id = new string('x', 129);
        await using var host = await ServerHost.StartAsync();
        var (trailer, inStarted) = await ChatWithIdAsync(host, id);
        Assert.Matches("^r-[0-9a-f]{12}$", trailer);
        Assert.Equal(trailer, inStarted);
    }
}
