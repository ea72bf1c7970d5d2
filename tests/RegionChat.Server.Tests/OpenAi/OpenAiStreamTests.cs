using System.Net;
using System.Text.Json.Nodes;

namespace RegionChat.Server.Tests.OpenAi;

/// <summary>The exact wire contract of the OpenAI endpoint's answers (the web page and other clients rely on it), and
/// what a client that leaves or a full queue does to the server.</summary>
public class OpenAiStreamTests
{
    [Fact]
    public async Task AStreamIsChunksWithSessionIdThenFinishWithTimingsThenUsageThenDone()
    {
        await using var host = await ServerHost.StartAsync();
        using var http = OpenAiHttp.Http(host);
        var body = OpenAiHttp.Body(10, OpenAiHttp.UserWithImage("what is this?", TestImages.Scene(311), new JsonObject { ["box"] = new JsonArray(0, 0, 20, 20) }));
        body["stream_options"] = new JsonObject { ["include_usage"] = true };
        var s = await OpenAiHttp.StreamAsync(http, body);

        Assert.True(s.Done, "the stream did not end with [DONE]");
        string session = (string)s.Chunks[0]["session_id"]!;
        Assert.StartsWith("s-", session);
        Assert.All(s.Chunks, c =>
        {
            Assert.Equal("chat.completion.chunk", (string?)c["object"]);
            Assert.Equal(session, (string?)c["session_id"]);
            Assert.Equal("tiny", (string?)c["model"]);
            Assert.Equal((string?)s.Chunks[0]["id"], (string?)c["id"]);
        });
        Assert.Equal("assistant", (string?)s.Chunks[0]["choices"]![0]!["delta"]!["role"]);
        var finish = s.Chunks[^2];
        Assert.Contains((string?)finish["choices"]![0]!["finish_reason"], new[] { "stop", "length" });
        Assert.NotNull(finish["timings"]);
        Assert.All(s.Chunks.SkipLast(2), c => Assert.Null(c["choices"]![0]!["finish_reason"]));
        var usage = s.Chunks[^1];
        Assert.Empty(usage["choices"]!.AsArray());
        int completion = (int)usage["usage"]!["completion_tokens"]!;
        int contentChunks = s.Chunks.Count(c => c["choices"]!.AsArray().Count > 0 && c["choices"]![0]!["delta"]!["content"] != null);
        Assert.InRange(contentChunks, 1, completion); // every text piece comes from at least one token
        Assert.Equal((int)usage["usage"]!["prompt_tokens"]! + completion, (int)usage["usage"]!["total_tokens"]!);
        Assert.Equal(0, (int)usage["usage"]!["prompt_tokens_details"]!["cached_tokens"]!);
        Assert.Equal(host.Model.VisualTokenCount, (int)usage["usage"]!["visual_tokens"]!);

        // Without include_usage there is no usage chunk; a follow-up reports its cached tokens in the non-streaming object.
        body.Remove("stream_options");
        body["session_id"] = session;
        body["messages"] = new JsonArray(OpenAiHttp.Message("user", "and then?"));
        var plain = await OpenAiHttp.StreamAsync(http, body);
        Assert.All(plain.Chunks, c => Assert.NotEmpty(c["choices"]!.AsArray()));
        Assert.All(plain.Chunks, c => Assert.False(c.ContainsKey("usage")));
        body["stream"] = false;
        body["messages"] = new JsonArray(OpenAiHttp.Message("user", "and after that?"));
        var object_ = await OpenAiHttp.CompleteAsync(http, body);
        Assert.Equal("chat.completion", (string?)object_["object"]);
        Assert.Equal(session, (string?)object_["session_id"]);
        Assert.True((int)object_["usage"]!["prompt_tokens_details"]!["cached_tokens"]! > 0);
        Assert.Equal("assistant", (string?)object_["choices"]![0]!["message"]!["role"]);
        Assert.True((double)object_["timings"]!["prefill_ms"]! > 0);
    }

    [Fact]
    public async Task AClientThatLeavesMidStreamFreesItsSequenceAndTheNextRequestIsServed()
    {
        await using var host = await ServerHost.StartAsync(("ParallelSequences", "1"), ("QueueSize", "4"));
        using var http = OpenAiHttp.Http(host);
        var body = OpenAiHttp.Body(3000, OpenAiHttp.Message("user", "describe this region"));
        body["stream"] = true;
        using (var response = await http.SendAsync(OpenAiHttp.Post(body.ToJsonString()), HttpCompletionOption.ResponseHeadersRead))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
            for (int events = 0; events < 4;)
                if ((await reader.ReadLineAsync())!.StartsWith("data: ")) events++;
            Assert.Equal(1, host.Model.Llm.Statistics.SequencesHeld);
        } // disposing the response closes the connection mid-stream

        // The engine stops within a token, the admission ticket is returned, and the session keeps (no) history.
        Assert.True(await Calls.EventuallyAsync(() => host.Admission.InFlight == 0 && host.Model.Llm.Statistics is { QueuedRequests: 0, ReservedCells: 0 }),
            $"still held: {host.Admission.InFlight} admitted, engine {host.Model.Llm.Statistics}");
        var metrics = await host.MetricsAsync();
        Assert.Equal(1, PrometheusText.Value(metrics, "regionchat_requests_total", ("method", "POST /v1/chat/completions"), ("status", "cancelled")));
        Assert.Equal(0, PrometheusText.Value(metrics, "regionchat_requests_active"));
        var next = await OpenAiHttp.CompleteAsync(http, OpenAiHttp.Body(4, OpenAiHttp.Message("user", "are you free?")));
        Assert.True((double)next["timings"]!["queue_ms"]! < 1000);
    }

    [Fact]
    public async Task AFullQueueIs429AndTheServerGoesOn()
    {
        await using var host = await ServerHost.StartAsync(("ParallelSequences", "1"), ("QueueSize", "1"));
        using var http = OpenAiHttp.Http(host);
        using var cts = new CancellationTokenSource();
        var (call, _) = await host.Client.StartChatAsync(Calls.LongChat(), ct: cts.Token);

        var full = await OpenAiHttp.FailsAsync(http, OpenAiHttp.Body(4, OpenAiHttp.Message("user", "hi")));
        Assert.Equal(HttpStatusCode.TooManyRequests, full.Status);
        Assert.Equal("queue_full", full.Code);

        cts.Cancel();
        call.Dispose();
        Assert.True(await Calls.EventuallyAsync(() => host.Admission.InFlight == 0));
        await OpenAiHttp.CompleteAsync(http, OpenAiHttp.Body(4, OpenAiHttp.Message("user", "hi")));
    }
}
