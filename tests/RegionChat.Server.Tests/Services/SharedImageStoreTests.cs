using Grpc.Core;
using RegionChat.TestSupport;
using StackExchange.Redis;
using PbV1 = RegionChat.Protos.V1;

namespace RegionChat.Server.Tests.Services;

/// <summary>
/// The shared image store in a real redis-server: within its byte budget at a cost that does not grow with what it
/// holds (a running total), and an image lives on while a session uses it or a client stores it again.
/// </summary>
public class SharedImageStoreTests
{
    static Task<ServerHost> StartOnRedisAsync(RedisServer redis, params (string Key, string Value)[] more) =>
        ServerHost.StartAsync([("SessionStore:Redis", redis.ConnectionString), .. more]);

    [SkippableFact]
    public async Task TheImagesStayWithinTheirBudgetOldestFirstAndTheRunningTotalIsWhatIsHeld()
    {
        await using var redis = await RedisServer.StartAsync();
        var images = Enumerable.Range(0, 6).Select(i => TestImages.SceneBytes(110 + i)).ToArray();
        long bound = images[3].Length + images[4].Length + images[5].Length;
        await using var a = await StartOnRedisAsync(redis, ("SessionStore:ImageBytes", bound.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        var ids = new List<string>();
        foreach (var bytes in images)
            ids.Add((await a.Client.PutImageAsync(new PbV1.PutImageRequest { Data = bytes }, deadline: Calls.Deadline())).ImageId);

        using var connection = await ConnectionMultiplexer.ConnectAsync(redis.ConnectionString);
        var db = connection.GetDatabase();
        var held = ids.Where(id => db.KeyExists("regionchat:img:" + id)).ToArray();
        Assert.Equal(ids[3..], held);
        Assert.Equal(bound, (long)db.StringGet("regionchat:img:total"));
        Assert.Equal(bound, db.HashValues("regionchat:img:sizes").Sum(v => (long)v));

        // A store written before the total was kept has none: the next put sums the sizes once.
        db.KeyDelete("regionchat:img:total");
        var again = TestImages.SceneBytes(120);
        await a.Client.PutImageAsync(new PbV1.PutImageRequest { Data = again }, deadline: Calls.Deadline());
        long total = (long)db.StringGet("regionchat:img:total");
        Assert.Equal(db.HashValues("regionchat:img:sizes").Sum(v => (long)v), total);
        Assert.True(total <= bound, $"{total} bytes held over a budget of {bound}");
    }

    [SkippableFact]
    public async Task AnImageLivesOnWhileItsSessionGoesOnAndWhenItIsStoredAgain()
    {
        await using var redis = await RedisServer.StartAsync();
        await using var a = await StartOnRedisAsync(redis, ("SessionStore:ImageSeconds", "2"));
        await using var b = await StartOnRedisAsync(redis, ("SessionStore:ImageSeconds", "2"));
        var first = await a.Client.ChatAsync(Calls.Chat("what is this?", TestImages.Scene(121), Calls.Box(0, 0, 32, 32), maxTokens: 4));
        string session = first.Started.SessionId;
        // Four more turns over about 3 s, past the image's 2 s: each renews it, so B can still restore the session.
        for (int i = 0; i < 4; i++)
        {
            await Task.Delay(800);
            await a.Client.ChatAsync(Calls.Chat($"and now ({i})?", maxTokens: 4, sessionId: session));
        }
        var moved = await b.Client.ChatAsync(Calls.Chat("and on B?", maxTokens: 4, sessionId: session));
        Assert.True(moved.Started.Restored);

        // An image A still holds, stored again through A after its shared copy went, is shared again.
        var bytes = TestImages.SceneBytes(122);
        string id = (await a.Client.PutImageAsync(new PbV1.PutImageRequest { Data = bytes }, deadline: Calls.Deadline())).ImageId;
        Assert.Equal(":1", await redis.CommandAsync($"DEL regionchat:img:{id}"));
        var byId = new PbV1.ChatRequest { Message = new PbV1.UserMessage { Text = "hi", Image = new PbV1.ImageInput { ImageId = id } }, MaxTokens = 2 };
        var gone = await Calls.FailsAsync(() => Calls.DrainAsync(b.Client.Chat(byId, deadline: Calls.Deadline())));
        Assert.Equal(StatusCode.NotFound, gone.StatusCode);
        await a.Client.PutImageAsync(new PbV1.PutImageRequest { Data = bytes }, deadline: Calls.Deadline());
        await b.Client.ChatAsync(byId);
    }
}
