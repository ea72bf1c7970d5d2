using System.Collections.Concurrent;
using System.Text;
using Grpc.Core;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using PbV1 = RegionChat.Protos.V1;

namespace RegionChat.Server.Tests;

/// <summary>RegionChat:OtlpTracesEndpoint: the server's real OTLP exporter posts its spans (protobuf over HTTP) to a
/// receiver on loopback; the request span joins the caller's trace and the turn's span carries its gen_ai tags.</summary>
public class TracingTests
{
    /// <summary>An OTLP/HTTP endpoint that keeps every body posted to /v1/traces.</summary>
    sealed class OtlpReceiver : IAsyncDisposable
    {
        readonly WebApplication app;
        public ConcurrentQueue<(string ContentType, byte[] Body)> Posts { get; } = new();
        public Uri Address { get; }

        OtlpReceiver(WebApplication app, Uri address)
        {
            this.app = app;
            Address = address;
        }

        public static async Task<OtlpReceiver> StartAsync()
        {
            var builder = WebApplication.CreateSlimBuilder();
            builder.WebHost.UseUrls("http://127.0.0.1:0");
            builder.Logging.ClearProviders();
            var app = builder.Build();
            OtlpReceiver? receiver = null;
            app.MapPost("/v1/traces", async (HttpContext context) =>
            {
                using var body = new MemoryStream();
                await context.Request.Body.CopyToAsync(body);
                receiver!.Posts.Enqueue((context.Request.ContentType ?? "", body.ToArray()));
                return Results.Ok();
            });
            await app.StartAsync();
            var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
            receiver = new OtlpReceiver(app, new Uri(address));
            return receiver;
        }

        public async ValueTask DisposeAsync() => await app.DisposeAsync();
    }

    static bool Holds(byte[] haystack, byte[] needle) => haystack.AsSpan().IndexOf(needle) >= 0;

    [Fact]
    public async Task SpansGoToTheOtlpEndpointInTheCallersTraceWithTheTurnsTags()
    {
        await using var receiver = await OtlpReceiver.StartAsync();
        var traceId = Convert.FromHexString("4bf92f3577b34da6a3ce929d0e0e4736");
        string session;
        await using (var host = await ServerHost.StartAsync(("OtlpTracesEndpoint", new Uri(receiver.Address, "/v1/traces").ToString())))
        {
            var headers = new Metadata { { "traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" } };
            var chat = await host.Client.ChatAsync(Calls.Chat("describe this region", TestImages.Scene(511), Calls.Box(0, 0, 24, 24)), headers);
            session = chat.Started.SessionId;
            var e = await Calls.FailsAsync(() => host.Client.ClassifyAsync(new PbV1.ClassifyRequest(), deadline: Calls.Deadline()).ResponseAsync);
            Assert.Equal(StatusCode.InvalidArgument, e.StatusCode);
        } // stopping the server flushes its exporter

        Assert.NotEmpty(receiver.Posts);
        Assert.All(receiver.Posts, p => Assert.Equal("application/x-protobuf", p.ContentType));
        byte[] all = receiver.Posts.SelectMany(p => p.Body).ToArray();
        Assert.True(Holds(all, traceId), "no span joined the caller's trace");
        foreach (string text in new[] { "chat tiny", "gen_ai.usage.output_tokens", "gen_ai.conversation.id", session, "first_token",
                     "regionchat.prefill_ms", "classify", "InvalidArgument", "regionchat" })
            Assert.True(Holds(all, Encoding.UTF8.GetBytes(text)), $"the exported spans lack \"{text}\"");
    }

    [Fact]
    public async Task ABadEndpointStopsTheServerAtStartNamingTheSetting()
    {
        var e = await Assert.ThrowsAnyAsync<Exception>(() => ServerHost.StartAsync(("OtlpTracesEndpoint", "collector:4318")));
        Assert.Contains("RegionChat:OtlpTracesEndpoint", e.Message);
    }
}
