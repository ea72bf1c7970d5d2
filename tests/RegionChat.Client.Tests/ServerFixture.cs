using Grpc.Core;
using RegionChat.Server.TestHost;
using PbV1 = RegionChat.Protos.V1;

namespace RegionChat.Client.Tests;

/// <summary>A real server with the tiny random model, one LLM sequence and an API key, plus a client that sends the key.
/// One sequence: a request that leaked its sequence would make the next one wait (caught by the calls' timeouts).</summary>
public sealed class ServerFixture : IAsyncLifetime
{
    public const string ApiKey = "client-tests-key";

    public ServerHost Host { get; private set; } = null!;
    public RegionChatClient Client { get; private set; } = null!;

    /// <summary>The generated gRPC client with the key on each call: the reference the wrapper is compared with.</summary>
    public PbV1.RegionChat.RegionChatClient Raw => Host.Client;
    public static Metadata Auth => ServerHost.Bearer(ApiKey);

    public async Task InitializeAsync()
    {
        Host = await ServerHost.StartAsync(("ParallelSequences", "1"), ("ApiKeys:0", ApiKey));
        Client = new RegionChatClient(Host.Address, ApiKey);
    }

    public async Task DisposeAsync()
    {
        Client.Dispose();
        await Host.DisposeAsync();
    }

    /// <summary>A whole raw Chat stream: its first event, text and last event.</summary>
    public async Task<(PbV1.ChatStarted Started, string Text, PbV1.ChatFinished Finished)> RawChatAsync(PbV1.ChatRequest request)
    {
        using var call = Raw.Chat(request, Auth, Deadline());
        PbV1.ChatStarted? started = null;
        PbV1.ChatFinished? finished = null;
        var text = new System.Text.StringBuilder();
        await foreach (var e in call.ResponseStream.ReadAllAsync())
        {
            if (e.Started != null) started = e.Started;
            if (e.Delta != null) text.Append(e.Delta.Text);
            if (e.Finished != null) finished = e.Finished;
        }
        Assert.NotNull(started);
        Assert.NotNull(finished);
        return (started, text.ToString(), finished);
    }

    public static DateTime Deadline() => DateTime.UtcNow.AddSeconds(60);

    /// <summary>A token that ends a call that hangs, so a broken server fails the test instead of stalling it.</summary>
    public static CancellationToken Timeout(int seconds = 60) => new CancellationTokenSource(TimeSpan.FromSeconds(seconds)).Token;
}

[CollectionDefinition(Name)]
public sealed class ServerCollection : ICollectionFixture<ServerFixture>
{
    public const string Name = "server";
}
