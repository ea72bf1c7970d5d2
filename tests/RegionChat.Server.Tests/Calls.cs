using Google.Rpc;
using Grpc.Core;
using PbV1 = RegionChat.Protos.V1;

namespace RegionChat.Server.Tests;

/// <summary>A whole Chat stream as the client saw it.</summary>
sealed record ChatResult(PbV1.ChatStarted Started, string Text, PbV1.ChatFinished Finished, IReadOnlyList<PbV1.ChatEvent> Events);

/// <summary>Call helpers. Every call has a deadline, so a server that hangs fails the test instead of stalling it.</summary>
static class Calls
{
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(60);

    public static DateTime Deadline(TimeSpan? timeout = null) => DateTime.UtcNow + (timeout ?? DefaultTimeout);

    /// <summary>Runs a chat turn and checks the stream's shape: Started, deltas, exactly one Finished at the end.</summary>
    public static async Task<ChatResult> ChatAsync(this PbV1.RegionChat.RegionChatClient client, PbV1.ChatRequest request,
        Metadata? headers = null, TimeSpan? timeout = null)
    {
        using var call = client.Chat(request, headers, Deadline(timeout));
        var events = new List<PbV1.ChatEvent>();
        await foreach (var e in call.ResponseStream.ReadAllAsync()) events.Add(e);
        Assert.True(events.Count >= 2, $"a chat stream needs Started and Finished, got {events.Count} events");
        Assert.Equal(PbV1.ChatEvent.EventOneofCase.Started, events[0].EventCase);
        Assert.Equal(PbV1.ChatEvent.EventOneofCase.Finished, events[^1].EventCase);
        Assert.All(events.Skip(1).SkipLast(1), e => Assert.Equal(PbV1.ChatEvent.EventOneofCase.Delta, e.EventCase));
        return new ChatResult(events[0].Started, string.Concat(events.Where(e => e.Delta != null).Select(e => e.Delta.Text)),
            events[^1].Finished, events);
    }

    public static PbV1.ChatRequest Chat(string text, byte[]? image = null, PbV1.Region? region = null, uint maxTokens = 8,
        string sessionId = "")
    {
        var request = new PbV1.ChatRequest { SessionId = sessionId, Message = new PbV1.UserMessage { Text = text }, MaxTokens = maxTokens };
        if (image != null) request.Message.Image = new PbV1.ImageInput { Data = Google.Protobuf.ByteString.CopyFrom(image) };
        if (region != null) request.Message.Region = region;
        return request;
    }

    /// <summary>A turn that runs long: with the tiny model's weights this text-only greedy answer reaches thousands of
    /// tokens without an end-of-sequence token (tests that rely on it check for finish reason LENGTH).</summary>
    public static PbV1.ChatRequest LongChat(uint maxTokens = 3000) => Chat("describe this region", maxTokens: maxTokens);

    /// <summary>Starts a chat stream and waits for its ChatStarted event.</summary>
    public static async Task<(AsyncServerStreamingCall<PbV1.ChatEvent> Call, PbV1.ChatStarted Started)> StartChatAsync(
        this PbV1.RegionChat.RegionChatClient client, PbV1.ChatRequest request, DateTime? deadline = null, CancellationToken ct = default)
    {
        var call = client.Chat(request, deadline: deadline ?? Deadline(), cancellationToken: ct);
        Assert.True(await call.ResponseStream.MoveNext(), "the stream ended before ChatStarted");
        Assert.Equal(PbV1.ChatEvent.EventOneofCase.Started, call.ResponseStream.Current.EventCase);
        return (call, call.ResponseStream.Current.Started);
    }

    /// <summary>Reads the rest of a started stream: its text and final event.</summary>
    public static async Task<(string Text, PbV1.ChatFinished Finished)> FinishAsync(AsyncServerStreamingCall<PbV1.ChatEvent> call)
    {
        var text = new System.Text.StringBuilder();
        PbV1.ChatFinished? finished = null;
        await foreach (var e in call.ResponseStream.ReadAllAsync())
        {
            Assert.Null(finished); // nothing after the final event
            if (e.Delta != null) text.Append(e.Delta.Text);
            else if (e.Finished != null) finished = e.Finished;
            else Assert.Fail($"unexpected {e.EventCase} event mid-stream");
        }
        Assert.NotNull(finished);
        return (text.ToString(), finished);
    }

    public static PbV1.Region Box(float x0, float y0, float x1, float y1) => new() { Box = new PbV1.Box { X0 = x0, Y0 = y0, X1 = x1, Y1 = y1 } };

    /// <summary>Runs <paramref name="call"/> and returns the RpcException it must end with.</summary>
    public static async Task<RpcException> FailsAsync(Func<Task> call)
    {
        try { await call(); }
        catch (RpcException e) { return e; }
        throw new Xunit.Sdk.XunitException("the call succeeded but was expected to fail");
    }

    /// <summary>Reads a whole server stream (for calls expected to fail).</summary>
    public static async Task DrainAsync<T>(AsyncServerStreamingCall<T> call)
    {
        using (call)
            await foreach (var _ in call.ResponseStream.ReadAllAsync()) { }
    }

    /// <summary>The google.rpc.BadRequest field violations in the status details trailer (empty when none).</summary>
    public static IReadOnlyList<BadRequest.Types.FieldViolation> Violations(RpcException e) =>
        e.GetRpcStatus()?.GetDetail<BadRequest>()?.FieldViolations.ToArray() ?? [];

    /// <summary>Client-facing text must be a sentence: no stack frames, no exception type names.</summary>
    public static void AssertCleanMessage(string? text)
    {
        Assert.False(string.IsNullOrWhiteSpace(text), "the error has no message");
        Assert.DoesNotContain("   at ", text);
        Assert.DoesNotContain("Exception", text);
        Assert.DoesNotContain("System.", text);
    }

    /// <summary>Polls <paramref name="condition"/> until it holds or the time is up.</summary>
    public static async Task<bool> EventuallyAsync(Func<bool> condition, TimeSpan? timeout = null)
    {
        var until = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(10));
        while (!condition())
        {
            if (DateTime.UtcNow > until) return false;
            await Task.Delay(20);
        }
        return true;
    }
}
