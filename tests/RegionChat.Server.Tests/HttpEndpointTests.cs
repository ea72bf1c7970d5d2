using System.Net;
using System.Text.Json.Nodes;
using RegionChat.Server.Tests.OpenAi;

namespace RegionChat.Server.Tests;

/// <summary>What the HTTP/1.1 listener answers besides chat completions: models.retrieve, unknown paths in OpenAI's
/// error shape, and the health endpoints for load balancers.</summary>
public class HttpEndpointTests
{
    [Fact]
    public async Task ABodyWithBrokenChunkedFramingIsA400NotAServerError()
    {
        await using var host = await ServerHost.StartAsync();
        using var tcp = new System.Net.Sockets.TcpClient();
        await tcp.ConnectAsync(host.HttpAddress.Host, host.HttpAddress.Port);
        var stream = tcp.GetStream();
        await stream.WriteAsync(System.Text.Encoding.ASCII.GetBytes("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n" +
            "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n"));
        using var reader = new StreamReader(stream);
        string status = await reader.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(30)) ?? "";
        Assert.StartsWith("HTTP/1.1 400", status);
        var metrics = await host.MetricsAsync();
        Assert.Equal(0, PrometheusText.Value(metrics, "regionchat_requests_total", ("method", "POST /v1/chat/completions"), ("status", "500")) ?? 0);
    }

    [Fact]
    public async Task GetModelByIdAnswersAsOpenAiModelsRetrieveAndUnknownIdsAreOpenAi404s()
    {
        await using var host = await ServerHost.StartAsync();
        using var http = OpenAiHttp.Http(host);

        var model = JsonNode.Parse(await http.GetStringAsync("/v1/models/tiny"))!.AsObject();
        Assert.Equal("tiny", (string?)model["id"]);
        Assert.Equal("model", (string?)model["object"]);
        Assert.Equal("regionchat", (string?)model["owned_by"]);
        Assert.True((bool)model["default"]!);
        var listed = JsonNode.Parse(await http.GetStringAsync("/v1/models"))!["data"]!.AsArray().Single()!;
        Assert.Equal(listed.ToJsonString(), model.ToJsonString());

        var unknown = await OpenAiHttp.FailsAsync(http, new HttpRequestMessage(HttpMethod.Get, "/v1/models/nope"));
        Assert.Equal(HttpStatusCode.NotFound, unknown.Status);
        Assert.Equal("model_not_found", unknown.Code);
        Assert.Equal("model", unknown.Param);
        Assert.Contains("'nope'", unknown.Message);
        Assert.Contains("tiny", unknown.Message);
    }

    [Theory]
    [InlineData("GET", "/v1/embeddings", HttpStatusCode.NotFound, "unknown_url")]
    [InlineData("POST", "/v1/completions", HttpStatusCode.NotFound, "unknown_url")]
    [InlineData("GET", "/no/such/page", HttpStatusCode.NotFound, "unknown_url")]
    [InlineData("GET", "/v1/chat/completions", HttpStatusCode.MethodNotAllowed, "method_not_allowed")]
    public async Task UnknownPathsAndMethodsGetAnOpenAiShapedError(string method, string path, HttpStatusCode status, string code)
    {
        await using var host = await ServerHost.StartAsync();
        using var http = OpenAiHttp.Http(host);
        var request = new HttpRequestMessage(new HttpMethod(method), path);
        if (method == "POST") request.Content = new StringContent("{}", System.Text.Encoding.UTF8, "application/json");
        var error = await OpenAiHttp.FailsAsync(http, request);
        Assert.Equal(status, error.Status);
        Assert.Equal(code, error.Code);
        Assert.Equal("invalid_request_error", error.Type);
        Assert.Contains($"{method} {path}", error.Message);
    }

    [Fact]
    public async Task HealthAndReadinessAnswerOnTheHttpListenerWithoutAnApiKey()
    {
        await using var host = await ServerHost.StartAsync(new Dictionary<string, string?> { ["RegionChat:ApiKeys:0"] = "k" });
        using var http = OpenAiHttp.Http(host);
        foreach (var path in new[] { "/health", "/health/ready" })
        {
            using var response = await http.GetAsync(path);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("Healthy", await response.Content.ReadAsStringAsync());
        }
    }
}
