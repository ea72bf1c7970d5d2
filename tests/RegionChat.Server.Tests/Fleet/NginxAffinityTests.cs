using System.Net;
using System.Text.Json.Nodes;
using Grpc.Core;
using Grpc.Net.Client;
using RegionChat.Client;
using RegionChat.Server.Tests.OpenAi;
using Xunit.Abstractions;
using PbV1 = RegionChat.Protos.V1;

namespace RegionChat.Server.Tests.Fleet;

/// <summary>
/// deploy/nginx/regionchat.conf in a real nginx over three servers (issue 13 items 3 and 5): a conversation's turns,
/// which carry the x-regionchat-session header, stay on one replica and get the header back; requests without it
/// spread over the replicas; health checks pass through.
/// </summary>
public sealed class NginxAffinityTests(NginxFleet fleet, ITestOutputHelper log) : IClassFixture<NginxFleet>
{
    const string Header = "x-regionchat-session";

    [SkippableFact]
    public async Task AConversationsTurnsStayOnOneReplicaAndTheHeaderComesBack()
    {
        fleet.SkipIfMissing();
        using var client = new RegionChatClient(fleet.Nginx.GrpcAddress);
        var sessions = new List<string>();
        for (int c = 0; c < 12; c++)
        {
            var image = ChatImage.FromBytes(TestImages.Scene(40 + c));
            var first = await client.ChatAsync(new ChatTurn("what is this?")
            {
                Image = image, Region = ImageRegion.Box(0, 0, 32, 32), Generation = new GenerationOptions { MaxTokens = 4 },
            });
            string id = first.SessionId;
            sessions.Add(id);
            // Without affinity a follow-up would reach a replica that never saw the session (NOT_FOUND, or a replay).
            for (int t = 0; t < 2; t++)
            {
                var next = await client.ChatAsync(new ChatTurn(t == 0 ? "and its colour?" : "and here?")
                {
                    SessionId = id, Region = t == 1 ? ImageRegion.Box(16, 16, 48, 48) : null, Generation = new GenerationOptions { MaxTokens = 4 },
                });
                Assert.Equal(id, next.SessionId);
                Assert.True(next.Started.CachedTokens > 0, "a follow-up found nothing cached: it reached another replica");
            }
        }

        static IEnumerable<LoggedRequest> Chats(IEnumerable<LoggedRequest> all) => all.Where(r => r.Path.EndsWith("/Chat", StringComparison.Ordinal));
        var chats = Chats(await fleet.RequestsOnceAsync(all => Chats(all).Count() >= 36)).ToArray();
        Assert.Equal(36, chats.Length);
        var holders = new int[3];
        foreach (string id in sessions)
        {
            var replicas = chats.Where(r => r.Session == id).Select(r => r.Replica).Distinct().ToArray();
            Assert.True(replicas.Length == 1, $"session {id} went to replicas {string.Join(", ", replicas)}");
            // The session lives on that replica alone.
            Assert.Equal([replicas[0]], Enumerable.Range(0, 3).Where(i => fleet.Replicas[i].Sessions.Get(id) != null));
            holders[replicas[0]]++;
        }
        log.WriteLine($"sessions per replica: {string.Join(", ", holders)}");
        // 12 random ids over 3 replicas: all on one would be a 3^-11 chance (or no hashing at all).
        Assert.True(holders.Count(h => h > 0) >= 2, "every session went to one replica");

        // The header comes back through nginx, on a first turn (the client's chosen id) and on a follow-up.
        using var channel = GrpcChannel.ForAddress(fleet.Nginx.GrpcAddress);
        var raw = new PbV1.RegionChat.RegionChatClient(channel);
        string chosen = RegionChatClient.NewSessionId();
        using (var call = raw.Chat(Calls.Chat("hi", TestImages.Scene(60)), new Metadata { { Header, chosen } }, Calls.Deadline()))
        {
            Assert.Equal(chosen, (await call.ResponseHeadersAsync).GetValue(Header));
            await Calls.DrainAsync(call);
        }
        using (var call = raw.Chat(Calls.Chat("and?", sessionId: chosen), new Metadata { { Header, chosen } }, Calls.Deadline()))
        {
            Assert.Equal(chosen, (await call.ResponseHeadersAsync).GetValue(Header));
            await Calls.DrainAsync(call);
        }
    }

    [SkippableFact]
    public async Task TheOpenAiApiThroughNginxKeepsASessionOnOneReplica()
    {
        fleet.SkipIfMissing();
        using var http = new HttpClient { BaseAddress = fleet.Nginx.HttpAddress, Timeout = Calls.DefaultTimeout };
        var ids = new List<string>();
        for (int c = 0; c < 6; c++)
        {
            string id = RegionChatClient.NewSessionId();
            ids.Add(id);
            var first = OpenAiHttp.Post(OpenAiHttp.Body(4, OpenAiHttp.UserWithImage("what is this?", TestImages.Scene(70 + c))).ToJsonString());
            first.Headers.Add(Header, id);
            using (var response = await http.SendAsync(first))
            {
                Assert.True(response.StatusCode == HttpStatusCode.OK, await response.Content.ReadAsStringAsync());
                Assert.Equal(id, response.Headers.GetValues(Header).Single());
            }
            for (int t = 0; t < 2; t++)
            {
                var body = OpenAiHttp.Body(4, OpenAiHttp.Message("user", "and its colour?"));
                body["session_id"] = id;
                body["stream"] = t == 1;
                var next = OpenAiHttp.Post(body.ToJsonString());
                next.Headers.Add(Header, id);
                using var response = await http.SendAsync(next);
                string text = await response.Content.ReadAsStringAsync();
                Assert.True(response.StatusCode == HttpStatusCode.OK, text);
                Assert.Equal(id, response.Headers.GetValues(Header).Single());
                Assert.Contains(id, text);
            }
        }
        var completions = (await fleet.RequestsOnceAsync(all => ids.All(id => all.Count(r => r.Session == id) >= 3)))
            .Where(r => r.Path == "/v1/chat/completions").ToArray();
        foreach (string id in ids)
            Assert.Single(completions.Where(r => r.Session == id).Select(r => r.Replica).Distinct());
    }

    [SkippableFact]
    public async Task RequestsWithoutTheHeaderSpreadOverTheReplicasAndHealthChecksPassThrough()
    {
        fleet.SkipIfMissing();
        int before = fleet.Requests().Count;
        using var client = new RegionChatClient(fleet.Nginx.GrpcAddress);
        for (int i = 0; i < 6; i++) await client.ListModelsAsync();
        for (int i = 0; i < 6; i++)
            await client.CaptionAsync(ChatImage.FromBytes(TestImages.Scene(80 + i)), ImageRegion.Box(0, 0, 32, 32),
                generation: new GenerationOptions { MaxTokens = 2 });
        using var http = new HttpClient { BaseAddress = fleet.Nginx.HttpAddress, Timeout = Calls.DefaultTimeout };
        for (int i = 0; i < 6; i++) Assert.Contains("\"object\":\"list\"", await http.GetStringAsync("/v1/models"));
        for (int i = 0; i < 3; i++)
        {
            using var health = await http.GetAsync("/health/ready");
            Assert.Equal(HttpStatusCode.OK, health.StatusCode);
        }
        using var channel = GrpcChannel.ForAddress(fleet.Nginx.GrpcAddress);
        var check = await new Grpc.Health.V1.Health.HealthClient(channel).CheckAsync(new Grpc.Health.V1.HealthCheckRequest(), deadline: Calls.Deadline());
        Assert.Equal(Grpc.Health.V1.HealthCheckResponse.Types.ServingStatus.Serving, check.Status);

        // 6 ListModels, 6 Caption, 6 /v1/models and 3 /health/ready (and the gRPC health check).
        var logged = (await fleet.RequestsOnceAsync(all => all.Count >= before + 21)).Skip(before).ToArray();
        foreach (var path in new[] { "/regionchat.v1.RegionChat/ListModels", "/regionchat.v1.RegionChat/Caption", "/v1/models" })
        {
            var by = logged.Where(r => r.Path == path).ToArray();
            Assert.Equal(6, by.Length);
            Assert.All(by, r => Assert.Equal("-", r.Session));
            // Round robin over three: each replica took two.
            Assert.Equal([2, 2, 2], Enumerable.Range(0, 3).Select(i => by.Count(r => r.Replica == i)));
        }
        Assert.Equal(3, logged.Count(r => r.Path == "/health/ready" && r.Status == 200));
    }

    [SkippableFact]
    public async Task EndSessionReachesTheReplicaThatHoldsTheSession()
    {
        fleet.SkipIfMissing();
        using var client = new RegionChatClient(fleet.Nginx.GrpcAddress);
        var ids = new List<string>();
        for (int c = 0; c < 6; c++)
        {
            var turn = await client.ChatAsync(new ChatTurn("what is this?")
            {
                Image = ChatImage.FromBytes(TestImages.Scene(70 + c)), Region = ImageRegion.Box(0, 0, 32, 32),
                Generation = new GenerationOptions { MaxTokens = 2 },
            });
            ids.Add(turn.SessionId);
        }
        foreach (string id in ids) await client.EndSessionAsync(id);

        // Each went where its session lives (the client sends the id as the header), so no replica still holds one.
        foreach (string id in ids)
            Assert.DoesNotContain(fleet.Replicas, r => r.Sessions.Get(id) != null);
        var ends = (await fleet.RequestsOnceAsync(all => all.Count(r => r.Path.EndsWith("/EndSession", StringComparison.Ordinal)) >= 6))
            .Where(r => r.Path.EndsWith("/EndSession", StringComparison.Ordinal)).ToArray();
        Assert.Equal(ids.Order(), ends.Select(r => r.Session).Order());
    }
}
