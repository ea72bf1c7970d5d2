using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using RegionChat.Server.TestHost;

namespace RegionChat.Server.Tests;

/// <summary>What the server's own entry point (the container's) does with a start-up mistake an operator makes: one line
/// naming it and exit code 1, not an unhandled exception with its stack trace.</summary>
public class StartupErrorTests
{
    [Theory]
    [InlineData("RegionChat:DefaultModel", "not-pulled-yet", "the default model 'not-pulled-yet' is not in")]
    [InlineData("RegionChat:QueueSize", "abc", "RegionChat:QueueSize")]
    // RegionChat__ApiKeys=KEY: a list wants __0, so this set no key and the server ran open.
    [InlineData("RegionChat:ApiKeys", "a-secret-key", "RegionChat:ApiKeys is a single value, which sets no key")]
    public async Task AStartupMistakeEndsTheServerWithOneLineNamingIt(string key, string value, string expected)
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { EnvironmentName = "Testing" });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["RegionChat:ModelsPath"] = Path.GetDirectoryName(ServerHost.TinyModelFolder),
            ["RegionChat:DefaultModel"] = "tiny",
            ["RegionChat:Threads"] = "1",
            ["RegionChat:GrpcUrl"] = "http://127.0.0.1:0",
            ["RegionChat:HttpUrl"] = "http://127.0.0.1:0",
            ["Logging:LogLevel:Default"] = "Warning",
            [key] = value,
        });
        using var error = new StringWriter();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));

        int exit = await RegionChatServer.RunAsync(builder, error, timeout.Token);

        Assert.Equal(1, exit);
        var line = Assert.Single(error.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("error: ", line);
        Assert.Contains(expected, line);
    }
}
