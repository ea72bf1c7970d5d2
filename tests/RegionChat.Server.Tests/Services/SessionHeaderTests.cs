using System.Net;
using System.Text.Json.Nodes;
using Grpc.Core;
using RegionChat.Server.Tests.OpenAi;

namespace RegionChat.Server.Tests.Services;

/// <summary>The x-regionchat-session header (issue 13 item 3): a first turn may choose its session's id with it (so a
/// load balancer routes the first turn already), later turns repeat it, and the server echoes it on every response.</summary>
public sealed class SessionHeaderTests
{
    const string Header = "x-regionchat-session";
    static readonly byte[] Scene = TestImages.Scene(31);

    static Metadata WithSession(string id) => new() { { Header, id } };

    [Fact]
    public async Task AFirstTurnTakesTheChosenIdAndEveryResponseEchoesIt()
    {
        await using var host = await ServerHost.StartAsync();
        using (var call = host.Client.Chat(Calls.Chat("what is this?", Scene, Calls.Box(0, 0, 32, 32)), WithSession("conv-1.a_b:c"), Calls.Deadline()))
        {
            Assert.Equal("conv-1.a_b:c", (await call.ResponseHeadersAsync).GetValue(Header));
            var started = new List<string>();
            await foreach (var e in call.ResponseStream.ReadAllAsync())
                if (e.Started != null) started.Add(e.Started.SessionId);
            Assert.Equal(["conv-1.a_b:c"], started);
        }
        Assert.NotNull(host.Sessions.Get("conv-1.a_b:c"));

        // The next turn names it in both places; the header is echoed again.
        using (var call = host.Client.Chat(Calls.Chat("and its colour?", sessionId: "conv-1.a_b:c"), WithSession("conv-1.a_b:c"), Calls.Deadline()))
        {
            Assert.Equal("conv-1.a_b:c", (await call.ResponseHeadersAsync).GetValue(Header));
            await Calls.DrainAsync(call);
        }

        // Without the header a new session's own id comes back in the headers (with the first event).
        using (var call = host.Client.Chat(Calls.Chat("hi", Scene), deadline: Calls.Deadline()))
        {
            string? echoed = (await call.ResponseHeadersAsync).GetValue(Header);
            Assert.True(await call.ResponseStream.MoveNext());
            Assert.StartsWith("s-", echoed);
            Assert.Equal(call.ResponseStream.Current.Started.SessionId, echoed);
            await Calls.DrainAsync(call);
        }

        // Calls that are not chat turns echo it too (a balancer's routing key).
        using (var call = host.Client.ListModelsAsync(new(), WithSession("lane-7"), Calls.Deadline()))
        {
            await call;
            Assert.Equal("lane-7", (await call.ResponseHeadersAsync).GetValue(Header));
        }
    }

    [Fact]
    public async Task ATakenOrMalformedChosenIdIsRefusedAndTheServerKeepsServing()
    {
        await using var host = await ServerHost.StartAsync();
        await host.Client.ChatAsync(Calls.Chat("hi", Scene), WithSession("taken"));

        var taken = await Calls.FailsAsync(() => host.Client.ChatAsync(Calls.Chat("hi again", Scene), WithSession("taken")));
        Assert.Equal(StatusCode.AlreadyExists, taken.StatusCode);
        Assert.Contains("session 'taken' already exists", taken.Status.Detail);
        Assert.Equal("taken", await HeaderOfFailedChatAsync(host, "taken"));

        foreach (var (id, says) in new[]
        {
            ("has space", "may hold only"),
            ("a/b", "may hold only"),
            (new string('a', 257), "the limit is 256"),
        })
        {
            var bad = await Calls.FailsAsync(() => host.Client.ChatAsync(Calls.Chat("hi", Scene),
                WithSession(id)));
            Assert.Equal(StatusCode.InvalidArgument, bad.StatusCode);
            var v = Assert.Single(Calls.Violations(bad));
            Assert.Equal(Header, v.Field);
            Assert.Contains(says, v.Description);
        }

        // A continued session must name itself in both places.
        var mismatch = await Calls.FailsAsync(() => host.Client.ChatAsync(Calls.Chat("and?", sessionId: "taken"), WithSession("other")));
        Assert.Equal(StatusCode.InvalidArgument, mismatch.StatusCode);
        Assert.Equal(Header, Assert.Single(Calls.Violations(mismatch)).Field);

        // Nothing of the refused turns was kept; the server answers the original session.
        Assert.Equal(1, host.Sessions.Count);
        var next = await host.Client.ChatAsync(Calls.Chat("still there?", sessionId: "taken"), WithSession("taken"));
        Assert.Equal("taken", next.Started.SessionId);
    }

    static async Task<string?> HeaderOfFailedChatAsync(ServerHost host, string id)
    {
        using var call = host.Client.Chat(Calls.Chat("hi again", Scene), WithSession(id), Calls.Deadline());
        try { await Calls.DrainAsync(call); }
        catch (RpcException) { }
        return (await call.ResponseHeadersAsync).GetValue(Header);
    }

    [Fact]
    public async Task TheOpenAiEndpointTakesAndEchoesTheHeaderAndRefusesATakenIdWith409()
    {
        await using var host = await ServerHost.StartAsync();
        using var http = OpenAiHttp.Http(host);
        var body = OpenAiHttp.Body(4, OpenAiHttp.UserWithImage("what is this?", Scene));
        using (var request = OpenAiHttp.Post(body.ToJsonString()))
        {
            request.Headers.Add(Header, "web-1");
            using var response = await http.SendAsync(request);
            string text = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == HttpStatusCode.OK, text);
            Assert.Equal("web-1", response.Headers.GetValues(Header).Single());
            Assert.Equal("web-1", (string?)JsonNode.Parse(text)!["session_id"]);
        }

        // Streaming, no header: the new session's id is in the headers before the first event.
        var streamed = OpenAiHttp.Body(4, OpenAiHttp.UserWithImage("what is this?", Scene));
        streamed["stream"] = true;
        using (var response = await http.SendAsync(OpenAiHttp.Post(streamed.ToJsonString()), HttpCompletionOption.ResponseHeadersRead))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.StartsWith("s-", response.Headers.GetValues(Header).Single());
            await response.Content.ReadAsStringAsync();
        }

        var again = OpenAiHttp.Post(body.ToJsonString());
        again.Headers.Add(Header, "web-1");
        var error = await OpenAiHttp.FailsAsync(http, again);
        Assert.Equal(HttpStatusCode.Conflict, error.Status);
        Assert.Equal(Header, error.Param);
        Assert.Equal("session_exists", error.Code);

        var follow = OpenAiHttp.Body(4, OpenAiHttp.Message("user", "and its colour?"));
        follow["session_id"] = "web-1";
        using (var request = OpenAiHttp.Post(follow.ToJsonString()))
        {
            request.Headers.Add(Header, "web-1");
            using var response = await http.SendAsync(request);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("web-1", response.Headers.GetValues(Header).Single());
        }
    }
}
