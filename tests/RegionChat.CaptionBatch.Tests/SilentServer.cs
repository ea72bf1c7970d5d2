using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using Google.Protobuf;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using PbV1 = RegionChat.Protos.V1;

namespace RegionChat.CaptionBatch.Tests;

/// <summary>
/// A real gRPC endpoint (Kestrel, h2c) that answers ListModels and PutImage, so a lane's probe and uploads pass, and
/// accepts CaptionStream calls, reading their items, but never answers one: a server whose engine hangs while its
/// connection stays up (HTTP/2 pings are answered). Or, with <c>answerItems</c>, one that captions every item at once
/// ("model" silent) but never ends the stream.
/// </summary>
internal sealed class SilentServer : IAsyncDisposable
{
    readonly WebApplication app;
    readonly bool answerItems;
    readonly TaskCompletionSource firstItem = new(TaskCreationOptions.RunContinuationsAsynchronously);
    int items;

    SilentServer(WebApplication app, bool answerItems)
    {
        this.app = app;
        this.answerItems = answerItems;
    }

    public Uri Address { get; private set; } = null!;
    /// <summary>CaptionStream items received so far.</summary>
    public int Items => Volatile.Read(ref items);
    /// <summary>Completes when the first CaptionStream item has arrived.</summary>
    public Task FirstItem => firstItem.Task;

    public static async Task<SilentServer> StartAsync(bool answerItems = false)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0, l => l.Protocols = HttpProtocols.Http2));
        var app = builder.Build();
        var server = new SilentServer(app, answerItems);
        const string service = "/regionchat.v1.RegionChat/";
        app.MapPost(service + "ListModels", c => UnaryAsync(c, new PbV1.ListModelsResponse()));
        app.MapPost(service + "PutImage", c => UnaryAsync(c, new PbV1.ImageRef { ImageId = "sha256:" + new string('0', 64) }));
        app.MapPost(service + "CaptionStream", server.CaptionStreamAsync);
        await app.StartAsync();
        server.Address = new Uri(app.Urls.Single());
        return server;
    }

    static async Task UnaryAsync(HttpContext context, IMessage answer)
    {
        await context.Request.Body.CopyToAsync(Stream.Null, context.RequestAborted);
        context.Response.ContentType = "application/grpc";
        await context.Response.Body.WriteAsync(Frame(answer.ToByteArray()), context.RequestAborted);
        context.Response.AppendTrailer("grpc-status", "0");
    }

    static byte[] Frame(byte[] message)
    {
        var frame = new byte[5 + message.Length];
        BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(1), (uint)message.Length);
        message.CopyTo(frame, 5);
        return frame;
    }

    async Task CaptionStreamAsync(HttpContext context)
    {
        using var done = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, app.Lifetime.ApplicationStopping);
        context.Response.ContentType = "application/grpc";
        try
        {
            await context.Response.StartAsync(done.Token);
            var body = context.Request.Body;
            var header = new byte[5];
            while (true)
            {
                await body.ReadExactlyAsync(header, done.Token);
                var message = new byte[BinaryPrimitives.ReadUInt32BigEndian(header.AsSpan(1))];
                await body.ReadExactlyAsync(message, done.Token);
                Interlocked.Increment(ref items);
                firstItem.TrySetResult();
                if (!answerItems) continue;
                var answer = new PbV1.CaptionStreamResponse
                {
                    Id = PbV1.CaptionStreamRequest.Parser.ParseFrom(message).Id,
                    Caption = new PbV1.CaptionResponse { Text = "a caption", Model = "silent" },
                };
                await context.Response.Body.WriteAsync(Frame(answer.ToByteArray()), done.Token);
                await context.Response.Body.FlushAsync(done.Token);
            }
        }
        catch (Exception e) when (e is OperationCanceledException or EndOfStreamException or IOException)
        {
            // The client went away, or finished sending: still no answer.
        }
        await Task.Delay(Timeout.Infinite, done.Token).ContinueWith(_ => { }, TaskScheduler.Default);
    }

    public async ValueTask DisposeAsync()
    {
        await app.StopAsync();
        await app.DisposeAsync();
    }
}

/// <summary>A TCP relay to a server that can freeze: from then on it forwards nothing either way and answers nothing on
/// new connections, but closes no socket, as a server process that froze (or a host that vanished behind a NAT) does.</summary>
internal sealed class FreezingProxy : IAsyncDisposable
{
    readonly TcpListener listener = new(IPAddress.Loopback, 0);
    readonly Uri target;
    readonly CancellationTokenSource stop = new();
    readonly List<TcpClient> sockets = [];
    readonly Task accepting;
    volatile bool frozen;

    public FreezingProxy(Uri target)
    {
        this.target = target;
        listener.Start();
        Address = new Uri($"http://127.0.0.1:{((IPEndPoint)listener.LocalEndpoint).Port}");
        accepting = AcceptAsync();
    }

    public Uri Address { get; }

    public void Freeze() => frozen = true;

    async Task AcceptAsync()
    {
        try
        {
            while (true)
            {
                var client = await listener.AcceptTcpClientAsync(stop.Token);
                lock (sockets) sockets.Add(client);
                if (frozen) continue;
                var upstream = new TcpClient();
                lock (sockets) sockets.Add(upstream);
                await upstream.ConnectAsync(target.Host, target.Port, stop.Token);
                _ = PumpAsync(client, upstream);
                _ = PumpAsync(upstream, client);
            }
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
        {
            // Disposed.
        }
    }

    async Task PumpAsync(TcpClient from, TcpClient to)
    {
        var buffer = new byte[16 << 10];
        try
        {
            while (true)
            {
                int n = await from.GetStream().ReadAsync(buffer, stop.Token);
                // Frozen: what was read is dropped and nothing more is read; the sockets stay open.
                if (frozen) return;
                if (n == 0) break;
                await to.GetStream().WriteAsync(buffer.AsMemory(0, n), stop.Token);
            }
        }
        catch (Exception e) when (e is OperationCanceledException or IOException or ObjectDisposedException)
        {
            if (frozen || stop.IsCancellationRequested) return;
        }
        try { to.Client.Shutdown(SocketShutdown.Send); }
        catch (Exception e) when (e is SocketException or ObjectDisposedException) { /* the other side is gone too */ }
    }

    public async ValueTask DisposeAsync()
    {
        stop.Cancel();
        listener.Stop();
        await accepting;
        lock (sockets)
            foreach (var s in sockets) s.Dispose();
        stop.Dispose();
    }
}
