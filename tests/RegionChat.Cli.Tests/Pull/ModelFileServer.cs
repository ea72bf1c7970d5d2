using System.Collections.Concurrent;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace RegionChat.Cli.Tests.Pull;

/// <summary>What a served file does wrong.</summary>
[Flags]
public enum FileFault
{
    None = 0,
    /// <summary>The first response for the file stops after <c>cutAfter</c> bytes of the file and the connection is dropped.</summary>
    CutOnce = 1,
    /// <summary>One byte in the middle flipped (same size, wrong hash).</summary>
    Corrupt = 2,
    /// <summary>An HTML error page with Content-Type text/html and status 200.</summary>
    HtmlPage = 4,
    /// <summary>An HTML page sent as application/octet-stream (a mirror that labels everything binary).</summary>
    HtmlBody = 8,
    /// <summary>Range headers ignored: always 200 with the whole file.</summary>
    IgnoreRange = 16,
    /// <summary>The file without its last 100 bytes, with a matching Content-Length (a short file on the server).</summary>
    Short = 32,
    /// <summary>The first response for the file stops sending after <c>cutAfter</c> bytes but keeps the connection open.</summary>
    StallOnce = 64,
    /// <summary>The first request for the file is answered 503 with "Retry-After: 1".</summary>
    UnavailableOnce = 128,
    /// <summary>No ETag and no Last-Modified: a resume cannot be checked against the file.</summary>
    NoValidator = 256,
    /// <summary>If-Range ignored: a range is always answered 206, whatever the file's ETag now is.</summary>
    IgnoreIfRange = 512,
}

/// <summary>
/// A loopback HTTP server (Kestrel on 127.0.0.1, a free port) serving files for pull tests: "Range: bytes=N-" answered
/// with 206 unless an If-Range names another ETag than the file's (a hash of its bytes), per-file faults, and a log of
/// every request with its Range and If-Range headers and the bytes sent.
/// </summary>
internal sealed class ModelFileServer : IAsyncDisposable
{
    public sealed record Request(string Path, string? Range, int Status, long BytesSent, string? Authorization = null, string? IfRange = null);

    sealed record Served(byte[] Data, FileFault Fault, long CutAfter)
    {
        public bool Cut, Refused;
    }

    readonly ConcurrentDictionary<string, Served> files = new(StringComparer.Ordinal);
    readonly ConcurrentQueue<Request> requests = new();
    readonly WebApplication app;

    ModelFileServer(WebApplication app, Uri address)
    {
        this.app = app;
        Address = address;
    }

    public Uri Address { get; }
    public IReadOnlyList<Request> Requests => [.. requests];
    public IReadOnlyList<Request> RequestsFor(string path) => [.. requests.Where(r => r.Path == path)];

    public string Url(string path) => new Uri(Address, path).ToString();

    public void Serve(string path, byte[] data, FileFault fault = FileFault.None, long cutAfter = 0) =>
        files[path] = new Served(data, fault, cutAfter);

    public static async Task<ModelFileServer> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        ModelFileServer? server = null;
        app.Run(context => server!.HandleAsync(context));
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        server = new ModelFileServer(app, new Uri(address));
        return server;
    }

    async Task HandleAsync(HttpContext context)
    {
        string path = context.Request.Path.Value ?? "";
        string? range = context.Request.Headers.Range.Count > 0 ? context.Request.Headers.Range.ToString() : null;
        string? authorization = context.Request.Headers.Authorization.Count > 0 ? context.Request.Headers.Authorization.ToString() : null;
        string? ifRange = context.Request.Headers.IfRange.Count > 0 ? context.Request.Headers.IfRange.ToString() : null;
        var response = context.Response;
        if (!files.TryGetValue(path, out var file))
        {
            response.StatusCode = 404;
            requests.Enqueue(new Request(path, range, 404, 0, authorization));
            return;
        }
        bool refuse;
        lock (file)
        {
            refuse = file.Fault.HasFlag(FileFault.UnavailableOnce) && !file.Refused;
            file.Refused |= refuse;
        }
        if (refuse)
        {
            response.StatusCode = 503;
            response.Headers.RetryAfter = "1";
            requests.Enqueue(new Request(path, range, 503, 0, authorization));
            return;
        }
        if ((file.Fault & (FileFault.HtmlPage | FileFault.HtmlBody)) != 0)
        {
            var page = Encoding.UTF8.GetBytes("<!DOCTYPE html>\n<html><body><h1>Access denied</h1></body></html>\n");
            response.ContentType = file.Fault.HasFlag(FileFault.HtmlPage) ? "text/html; charset=utf-8" : "application/octet-stream";
            response.ContentLength = page.Length;
            requests.Enqueue(new Request(path, range, 200, page.Length));
            await response.Body.WriteAsync(page);
            return;
        }

        byte[] data = file.Data;
        if (file.Fault.HasFlag(FileFault.Corrupt))
        {
            data = (byte[])data.Clone();
            data[data.Length / 2] ^= 0xFF;
        }
        if (file.Fault.HasFlag(FileFault.Short)) data = data[..^100];

        string etag = $"\"{Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(file.Data))[..16]}\"";
        if (!file.Fault.HasFlag(FileFault.NoValidator)) response.Headers.ETag = etag;
        bool current = ifRange == null || ifRange == etag || file.Fault.HasFlag(FileFault.IgnoreIfRange);
        long from = 0;
        response.StatusCode = 200;
        if (range != null && current && !file.Fault.HasFlag(FileFault.IgnoreRange) && range.StartsWith("bytes=", StringComparison.Ordinal)
            && range.EndsWith('-'))
        {
            from = long.Parse(range["bytes=".Length..^1]);
            if (from >= data.Length)
            {
                response.StatusCode = 416;
                response.Headers.ContentRange = $"bytes */{data.Length}";
                requests.Enqueue(new Request(path, range, 416, 0));
                return;
            }
            response.StatusCode = 206;
            response.Headers.ContentRange = $"bytes {from}-{data.Length - 1}/{data.Length}";
        }
        response.ContentType = "application/octet-stream";
        response.ContentLength = data.Length - from;

        bool cut;
        lock (file)
        {
            cut = (file.Fault & (FileFault.CutOnce | FileFault.StallOnce)) != 0 && !file.Cut;
            file.Cut |= cut;
        }
        long end = cut ? Math.Min(file.CutAfter, data.Length) : data.Length;
        // Logged before the body goes out: the client can finish reading (and the test look at the log) before this
        // handler resumes after the write.
        requests.Enqueue(new Request(path, range, response.StatusCode, end - from, authorization, ifRange));
        await response.Body.WriteAsync(data.AsMemory((int)from, (int)(end - from)));
        if (cut && file.Fault.HasFlag(FileFault.StallOnce))
        {
            await response.Body.FlushAsync();
            await Task.Delay(Timeout.Infinite, context.RequestAborted).ContinueWith(_ => { }); // silent until the client gives up
            return;
        }
        if (cut)
        {
            await response.Body.FlushAsync();
            await Task.Delay(200); // let the client read what was sent before the connection goes
            context.Abort();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await app.StopAsync();
        await app.DisposeAsync();
    }
}
