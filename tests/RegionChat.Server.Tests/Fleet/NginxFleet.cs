using System.Text.RegularExpressions;
using RegionChat.TestSupport;

namespace RegionChat.Server.Tests.Fleet;

/// <summary>Three real servers (in-process Kestrel on loopback ports) behind a real nginx running
/// deploy/nginx/regionchat.conf; one per test class (xunit class fixture), so the suite starts few of them.</summary>
public sealed class NginxFleet : IAsyncLifetime
{
    readonly List<ServerHost> replicas = [];
    NginxBalancer? nginx;

    public IReadOnlyList<ServerHost> Replicas => replicas;
    public NginxBalancer Nginx => nginx ?? throw new InvalidOperationException("the fleet did not start");
    /// <summary>Why the fleet could not start (nginx missing): each test skips with it.</summary>
    public string? Missing { get; private set; }

    public async Task InitializeAsync()
    {
        if (FleetBinaries.Find("nginx") == null)
        {
            Missing = "needs nginx (Debian package nginx-light; .ci/run installs it), absent here";
            return;
        }
        for (int i = 0; i < 3; i++) replicas.Add(await ServerHost.StartAsync());
        nginx = await NginxBalancer.StartAsync(replicas.Select(r => (r.Address, r.HttpAddress)).ToArray());
    }

    public async Task DisposeAsync()
    {
        if (nginx != null) await nginx.DisposeAsync();
        foreach (var r in replicas)
        {
            try { await r.DisposeAsync(); }
            catch (ObjectDisposedException) { } // a test stopped it already
        }
    }

    public void SkipIfMissing() => Skip.If(Missing != null, Missing);

    /// <summary>The replica (index) whose gRPC or HTTP port a "host:port" names, or -1.</summary>
    public int ReplicaOf(string upstream)
    {
        int port = int.Parse(upstream[(upstream.LastIndexOf(':') + 1)..]);
        return replicas.FindIndex(r => r.Address.Port == port || r.HttpAddress.Port == port);
    }

    /// <summary>The requests nginx logged so far: path, session header ("-" when none), the replica that answered (the
    /// last upstream tried) and how many upstreams were tried.</summary>
    public IReadOnlyList<LoggedRequest> Requests() =>
        Nginx.AccessLog.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(line =>
        {
            var m = LogLine.Match(line);
            Assert.True(m.Success, "unexpected access log line: " + line);
            var upstreams = m.Groups["up"].Value.Split(", ");
            return new LoggedRequest(m.Groups["path"].Value, m.Groups["session"].Value, int.Parse(m.Groups["status"].Value),
                upstreams[^1] == "-" ? -1 : ReplicaOf(upstreams[^1]), upstreams.Length);
        }).ToArray();

    /// <summary>The requests nginx logged, once <paramref name="complete"/> holds of them or after 10 s: nginx writes a
    /// request's line after its response went out, so a client can see the last response before the line is there.</summary>
    public async Task<IReadOnlyList<LoggedRequest>> RequestsOnceAsync(Func<IReadOnlyList<LoggedRequest>, bool> complete)
    {
        var until = DateTime.UtcNow.AddSeconds(10);
        var logged = Requests();
        while (!complete(logged) && DateTime.UtcNow < until)
        {
            await Task.Delay(20);
            logged = Requests();
        }
        return logged;
    }

    static readonly Regex LogLine = new(
        @"""(?<method>\S+) (?<path>\S+) [^""]*"" (?<status>\d+) .* session=""(?<session>[^""]*)"" upstream=(?<up>.*) upstream_status=",
        RegexOptions.CultureInvariant);
}

public sealed record LoggedRequest(string Path, string Session, int Status, int Replica, int Tries);
