using System.Buffers.Binary;
using System.Net;
using Google.Protobuf;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Logging;
using PbV1 = RegionChat.Protos.V1;

namespace RegionChat.Client.Tests;

/// <summary>A chat stream that breaks the protocol (a proxy that ended it early with OK, or not a RegionChat server)
/// fails as a <see cref="RegionChatException"/> (Internal), which callers catch with every other failure.</summary>
public class ProtocolAnomalyTests
{
    /// <summary>A real h2c endpoint whose Chat sends the given events and ends the call with OK.</summary>
    static async Task<WebApplication> ServeChatAsync(params PbV1.ChatEvent[] events)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0, l => l.Protocols = HttpProtocols.Http2));
        var app = builder.Build();
        app.MapPost("/regionchat.v1.RegionChat/Chat", async context =>
        {
            await context.Request.Body.CopyToAsync(Stream.Null, context.RequestAborted);
            context.Response.ContentType = "application/grpc";
            foreach (var e in events)
            {
                byte[] message = e.ToByteArray(), frame = new byte[5 + message.Length];
                BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(1), (uint)message.Length);
                message.CopyTo(frame, 5);
                await context.Response.Body.WriteAsync(frame, context.RequestAborted);
            }
            context.Response.AppendTrailer("grpc-status", "0");
        });
        await app.StartAsync();
        return app;
    }

    static readonly PbV1.ChatEvent Started = new() { Started = new PbV1.ChatStarted { SessionId = "s-1", Model = "m" } };
    static readonly PbV1.ChatEvent Delta = new() { Delta = new PbV1.TextDelta { Text = "a" } };

    [Fact]
    public async Task AChatStreamWithoutItsLastEventIsARegionChatException()
    {
        await using var app = await ServeChatAsync(Started, Delta);
        using var client = new RegionChatClient(app.Urls.Single());
        var e = await Assert.ThrowsAsync<RegionChatException>(() => client.ChatAsync(new ChatTurn("hi")));
        Assert.Equal(Grpc.Core.StatusCode.Internal, e.StatusCode);
        Assert.Contains("without its first or last event", e.Message);
    }

    [Fact]
    public async Task AnIChatClientStreamWithoutItsFirstEventIsARegionChatException()
    {
        await using var app = await ServeChatAsync(Delta);
        using var client = new RegionChatClient(app.Urls.Single());
        var e = await Assert.ThrowsAsync<RegionChatException>(() => client.AsIChatClient().GetResponseAsync([new Microsoft.Extensions.AI.ChatMessage(ChatRole.User, "hi")]));
        Assert.Equal(Grpc.Core.StatusCode.Internal, e.StatusCode);
        Assert.Contains("before the chat stream's first event", e.Message);
    }

    [Fact]
    public async Task AnIChatClientStreamWithoutItsLastEventIsARegionChatException()
    {
        await using var app = await ServeChatAsync(Started, Delta);
        using var client = new RegionChatClient(app.Urls.Single());
        var e = await Assert.ThrowsAsync<RegionChatException>(() => client.AsIChatClient().GetResponseAsync([new Microsoft.Extensions.AI.ChatMessage(ChatRole.User, "hi")]));
        Assert.Contains("without its last event", e.Message);
    }

    [Fact]
    public async Task ARetriedEndSessionCarriesItsAttemptCountForTheServer()
    {
        // What the server's EndSession relies on: grpc-dotnet marks a retry with grpc-previous-rpc-attempts.
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0, l => l.Protocols = HttpProtocols.Http2));
        await using var app = builder.Build();
        var attempts = new List<string?>();
        app.MapPost("/regionchat.v1.RegionChat/EndSession", async context =>
        {
            await context.Request.Body.CopyToAsync(Stream.Null, context.RequestAborted);
            context.Response.ContentType = "application/grpc";
            string? marked = context.Request.Headers["grpc-previous-rpc-attempts"].FirstOrDefault();
            lock (attempts) attempts.Add(marked);
            if (marked == null)
            {
                context.Response.Headers["grpc-status"] = "14"; // UNAVAILABLE, nothing answered: the client retries
                return;
            }
            await context.Response.Body.WriteAsync(new byte[5], context.RequestAborted); // an empty EndSessionResponse
            context.Response.AppendTrailer("grpc-status", "0");
        });
        await app.StartAsync();
        using var client = new RegionChatClient(app.Urls.Single());
        await client.EndSessionAsync("s-1");
        Assert.Equal([null, "1"], attempts);
    }
}
