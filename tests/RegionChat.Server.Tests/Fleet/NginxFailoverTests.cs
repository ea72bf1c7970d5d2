using System.Net;
using RegionChat.Client;

namespace RegionChat.Server.Tests.Fleet;

/// <summary>deploy/nginx/regionchat.conf with a replica gone (issue 13 items 3 and 5): requests without a session are
/// retried on a live replica when the first one refuses the connection, so none fails; sessions of the gone replica
/// are routed to a live one (which answers NOT_FOUND until the session store restores it).</summary>
public sealed class NginxFailoverTests(NginxFleet fleet) : IClassFixture<NginxFleet>
{
    [SkippableFact]
    public async Task AStoppedReplicaIsSkippedAndNoRequestFails()
    {
        fleet.SkipIfMissing();
        using var client = new RegionChatClient(fleet.Nginx.GrpcAddress);
        using var http = new HttpClient { BaseAddress = fleet.Nginx.HttpAddress, Timeout = Calls.DefaultTimeout };
        // Everyone has served once (nginx holds keep-alive connections to all three).
        for (int i = 0; i < 3; i++)
        {
            await client.ListModelsAsync();
            Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/v1/models")).StatusCode);
        }
        var gone = fleet.Replicas[1];
        await gone.DisposeAsync(); // its listeners close: connections are refused, as after kill -9
        int before = fleet.Requests().Count;

        for (int i = 0; i < 9; i++)
        {
            await client.ListModelsAsync();
            await client.CaptionAsync(ChatImage.FromBytes(TestImages.Scene(90 + i)), ImageRegion.Box(0, 0, 32, 32),
                generation: new GenerationOptions { MaxTokens = 2 });
            using var models = await http.GetAsync("/v1/models");
            Assert.Equal(HttpStatusCode.OK, models.StatusCode);
        }

        var logged = (await fleet.RequestsOnceAsync(all => all.Count >= before + 27)).Skip(before).ToArray();
        Assert.Equal(27, logged.Length);
        Assert.All(logged, r => Assert.Equal(200, r.Status));
        Assert.All(logged, r => Assert.NotEqual(1, r.Replica));
        // The first request of each kind that nginx sent to the gone replica was retried on another one.
        Assert.Contains(logged, r => r.Tries > 1);
        Assert.Equal(3, logged.Select(r => r.Path).Distinct().Count());
        Assert.All(new[] { 0, 2 }, i => Assert.Contains(logged, r => r.Replica == i));
    }
}
