using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace RegionChat.TestSupport;

/// <summary>Free loopback ports and the Debian binaries the fleet tests run (redis-server, nginx).</summary>
public static class FleetBinaries
{
    /// <summary>
    /// A TCP port free on 127.0.0.1 right now, for a server another program binds (redis-server, nginx). It is drawn below
    /// the kernel's ephemeral range (ip_local_port_range), where neither a port-0 listener nor the client side of an
    /// outgoing connection of any process (the test assemblies run at once) can take it between this check and the bind.
    /// </summary>
    public static int FreePort()
    {
        int low = EphemeralRangeStart();
        int from = Math.Max(10_000, low - 15_000);
        for (int attempt = 0; attempt < 200; attempt++)
        {
            int port = Random.Shared.Next(from, low);
            try
            {
                using var l = new TcpListener(IPAddress.Loopback, port);
                l.Start();
                return port;
            }
            catch (SocketException) { }   // in use: draw again
        }
        throw new InvalidOperationException($"no free loopback port in {from}..{low - 1} after 200 draws");
    }

    static int EphemeralRangeStart()
    {
        try
        {
            var parts = File.ReadAllText("/proc/sys/net/ipv4/ip_local_port_range").Split((char[])['\t', ' ', '\n'],
                StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length == 2 && int.TryParse(parts[0], out int low) && low > 11_000) return low;
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        return 32768;   // Linux's default
    }

    /// <summary>The path of a program on the PATH or in an sbin folder (Debian puts nginx in /usr/sbin); skips the calling
    /// test, naming the program and its Debian package, when it is missing (.ci/run installs both).</summary>
    public static string Require(string program, string package)
    {
        string? found = Find(program);
        Skip.If(found == null, $"needs {program} (Debian package {package}; .ci/run installs it), absent here");
        return found!;
    }

    public static string? Find(string program)
    {
        var dirs = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Concat(["/usr/sbin", "/usr/local/sbin", "/sbin", "/usr/bin"]);
        return dirs.Select(d => Path.Combine(d, program)).FirstOrDefault(File.Exists);
    }

    /// <summary>Waits until something accepts TCP connections on 127.0.0.1:<paramref name="port"/>, or the process ends.</summary>
    internal static async Task WaitForPortAsync(int port, Process process, Func<string> output, TimeSpan timeout)
    {
        var sw = Stopwatch.StartNew();
        while (true)
        {
            if (process.HasExited) throw new InvalidOperationException($"{process.StartInfo.FileName} ended (exit {process.ExitCode}): {output()}");
            try
            {
                using var c = new TcpClient();
                using var connect = new CancellationTokenSource(TimeSpan.FromSeconds(5));
                await c.ConnectAsync(IPAddress.Loopback, port, connect.Token);
                return;
            }
            catch (Exception e) when ((e is SocketException or OperationCanceledException) && sw.Elapsed < timeout) // refused, or no answer yet
            {
                await Task.Delay(50);
            }
        }
    }

    internal static Process Start(string file, IEnumerable<string> args, StringBuilder output)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) psi.ArgumentList.Add(a);
        var p = new Process { StartInfo = psi };
        p.OutputDataReceived += (_, e) => { if (e.Data != null) lock (output) output.AppendLine(e.Data); };
        p.ErrorDataReceived += (_, e) => { if (e.Data != null) lock (output) output.AppendLine(e.Data); };
        p.Start();
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        return p;
    }

    internal static async Task StopAsync(Process p, bool kill)
    {
        if (p.HasExited) return;
        if (kill) p.Kill(entireProcessTree: true);
        else Signal(p.Id, 15);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        try { await p.WaitForExitAsync(cts.Token); }
        catch (OperationCanceledException)
        {
            p.Kill(entireProcessTree: true);
            // Bounded too: a child that outlived the process can hold its output pipes open, and WaitForExitAsync waits
            // for their end as well.
            using var killed = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            try { await p.WaitForExitAsync(killed.Token); }
            catch (OperationCanceledException) { }
        }
    }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    static extern int Signal(int pid, int sig);
}

/// <summary>A real redis-server on a free loopback port, in a temp folder, with persistence off (tests start their own;
/// never the system service). <see cref="StopAsync"/> and <see cref="StartAgainAsync"/> restart it empty on the same port.</summary>
public sealed class RedisServer : IAsyncDisposable
{
    readonly TempDir dir = new();
    readonly string binary;
    readonly StringBuilder output = new();
    Process? process;

    RedisServer(string binary, int port)
    {
        this.binary = binary;
        Port = port;
    }

    public int Port { get; }
    /// <summary>"127.0.0.1:PORT": a StackExchange.Redis connection string (RegionChat:SessionStore:Redis).</summary>
    public string ConnectionString => $"127.0.0.1:{Port}";
    public string Url => $"redis://127.0.0.1:{Port}";
    public string Output { get { lock (output) return output.ToString(); } }

    /// <summary>Starts one; skips the calling test naming redis-server when it is missing.</summary>
    public static async Task<RedisServer> StartAsync()
    {
        var r = new RedisServer(FleetBinaries.Require("redis-server", "redis-server"), FleetBinaries.FreePort());
        await r.StartAgainAsync();
        return r;
    }

    /// <summary>Starts the server (again, empty) on its port and waits until it answers PING.</summary>
    public async Task StartAgainAsync()
    {
        if (process is { HasExited: false }) throw new InvalidOperationException("redis-server is running");
        process = FleetBinaries.Start(binary, ["--port", Port.ToString(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
            "--dir", dir.Path, "--daemonize", "no", "--protected-mode", "yes"], output);
        await FleetBinaries.WaitForPortAsync(Port, process, () => Output, TimeSpan.FromSeconds(20));
        string pong = await CommandAsync("PING");
        if (pong != "+PONG") throw new InvalidOperationException($"redis-server answered PING with '{pong}'");
    }

    /// <summary>Sends one inline command and returns the first line of the reply ("+PONG", ":3", "$5", "-ERR …").</summary>
    public async Task<string> CommandAsync(string command)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        using var c = new TcpClient();
        await c.ConnectAsync(IPAddress.Loopback, Port, timeout.Token);
        var s = c.GetStream();
        await s.WriteAsync(Encoding.ASCII.GetBytes(command + "\r\n"), timeout.Token);
        using var reader = new StreamReader(s, Encoding.ASCII);
        return await reader.ReadLineAsync(timeout.Token) ?? "";
    }

    /// <summary>Stops it (SIGTERM, or SIGKILL with <paramref name="kill"/>); its data is gone (persistence is off).</summary>
    public Task StopAsync(bool kill = false) => process == null ? Task.CompletedTask : FleetBinaries.StopAsync(process, kill);

    public async ValueTask DisposeAsync()
    {
        await StopAsync(kill: true);
        process?.Dispose();
        dir.Dispose();
    }
}

/// <summary>
/// A real nginx on free loopback ports with the repository's deploy/nginx/regionchat.conf (consistent hashing on
/// x-regionchat-session, retries on a dead replica) in front of the given replicas, run as deploy/nginx/nginx.conf runs
/// it: in the foreground, in a temp folder that holds its config, pid, logs and temp files.
/// </summary>
public sealed class NginxBalancer : IAsyncDisposable
{
    readonly TempDir dir;
    readonly StringBuilder output;
    readonly Process process;

    NginxBalancer(TempDir dir, Process process, StringBuilder output, int grpcPort, int httpPort)
    {
        this.dir = dir;
        this.process = process;
        this.output = output;
        GrpcAddress = new Uri($"http://127.0.0.1:{grpcPort}");
        HttpAddress = new Uri($"http://127.0.0.1:{httpPort}");
    }

    /// <summary>The balancer's gRPC (h2c) address.</summary>
    public Uri GrpcAddress { get; }
    /// <summary>The balancer's HTTP/1.1 address.</summary>
    public Uri HttpAddress { get; }
    /// <summary>Its folder (nginx.conf, regionchat.conf, regionchat.d/, access.log).</summary>
    public string Folder => dir.Path;
    /// <summary>What nginx wrote to stdout and stderr (its error log).</summary>
    public string Output { get { lock (output) return output.ToString(); } }

    /// <summary>The access log so far (regionchat.conf's "regionchat" format: the session and the upstream of each request).</summary>
    public string AccessLog => File.Exists(dir.File("access.log")) ? File.ReadAllText(dir.File("access.log")) : "";

    /// <summary>Starts nginx over replicas given as (gRPC address, HTTP address) pairs; skips the calling test naming nginx
    /// when it is missing.</summary>
    public static async Task<NginxBalancer> StartAsync(IReadOnlyList<(Uri Grpc, Uri Http)> replicas)
    {
        string nginx = FleetBinaries.Require("nginx", "nginx-light");
        var dir = new TempDir();
        string deploy = Path.Combine(SharedFiles.RepoRoot, "deploy", "nginx");
        File.Copy(Path.Combine(deploy, "nginx.conf"), dir.File("nginx.conf"));
        File.Copy(Path.Combine(deploy, "regionchat.conf"), dir.File("regionchat.conf"));
        Directory.CreateDirectory(dir.File("tmp"));
        string d = Directory.CreateDirectory(dir.File("regionchat.d")).FullName;
        int grpcPort = FleetBinaries.FreePort(), httpPort = FleetBinaries.FreePort();
        File.WriteAllText(Path.Combine(d, "grpc-listen.conf"), $"listen 127.0.0.1:{grpcPort} http2;\n");
        File.WriteAllText(Path.Combine(d, "http-listen.conf"), $"listen 127.0.0.1:{httpPort};\n");
        File.WriteAllLines(Path.Combine(d, "grpc-replicas.conf"), replicas.Select(r => $"server {r.Grpc.Authority} max_fails=1 fail_timeout=10s;"));
        File.WriteAllLines(Path.Combine(d, "http-replicas.conf"), replicas.Select(r => $"server {r.Http.Authority} max_fails=1 fail_timeout=10s;"));
        var args = new List<string> { "-p", dir.Path + "/", "-c", dir.File("nginx.conf"), "-e", "stderr" };
        // As root, nginx's workers would run as nobody, who cannot enter the 0700 temp folder.
        if (Environment.UserName == "root") args.AddRange(["-g", "user root;"]);
        var output = new StringBuilder();
        var balancer = new NginxBalancer(dir, FleetBinaries.Start(nginx, args, output), output, grpcPort, httpPort);
        try
        {
            await FleetBinaries.WaitForPortAsync(grpcPort, balancer.process, () => balancer.Output, TimeSpan.FromSeconds(20));
            await FleetBinaries.WaitForPortAsync(httpPort, balancer.process, () => balancer.Output, TimeSpan.FromSeconds(20));
        }
        catch
        {
            await balancer.DisposeAsync();
            throw;
        }
        return balancer;
    }

    public async ValueTask DisposeAsync()
    {
        await FleetBinaries.StopAsync(process, kill: false);
        process.Dispose();
        dir.Dispose();
    }
}
