using RegionChat.Llm.Engine;
using RegionChat.Llm.Engine.Internal;

namespace RegionChat.Llm.Tests.Engine;

/// <summary>A cancel is seen between prefill chunks and between tokens: it lands before the next decode step.</summary>
public class CancellationTests(TinyModels models) : IClassFixture<TinyModels>
{
    [Fact]
    public async Task ACancelDuringPrefillLandsBeforeTheNextChunk()
    {
        using var engine = models.Load(batchSize: 4);
        using var session = engine.CreateSession(keepHistory: true);
        using var cts = new CancellationTokenSource();
        var steps = new List<SchedulerStep>();
        engine.Scheduler.StepObserver = s =>
        {
            steps.Add(s);
            if (steps.Count == 3) cts.Cancel();
        };
        var prompt = new[] { PromptSegment.Text(string.Join(" ", Enumerable.Repeat("the cat sits on the chair", 6))) };

        var run = await Collected.From(engine.GenerateAsync(session, prompt, SamplingParams.Greedy(8), cts.Token));
        Assert.Equal(FinishReason.Cancelled, run.Final.Reason);
        Assert.Equal(3, steps.Count);
        Assert.Equal(3 * 4, run.Final.Usage.PrefilledTokens);
        Assert.True(run.Final.Usage.NewPromptTokens > 20);
        Assert.Equal(0, run.Final.Usage.CompletionTokens);
        Assert.Equal(LlmSessionState.Fresh, session.State);     // the partial history was freed
        Assert.Equal(0, engine.Statistics.UsedCells);
    }

    [Fact]
    public async Task ACancelDuringDecodingLandsBeforeTheNextToken()
    {
        using var engine = models.Load();
        using var session = engine.CreateSession(keepHistory: true);
        using var cts = new CancellationTokenSource();
        int steps = 0;
        engine.Scheduler.StepObserver = _ =>
        {
            if (++steps == 5) cts.Cancel();
        };
        var prompt = new[] { PromptSegment.Text("the cat sits") };
        var run = await Collected.From(engine.GenerateAsync(session, prompt,
            SamplingParams.Greedy(50) with { IgnoreEos = true }, cts.Token));
        Assert.Equal(FinishReason.Cancelled, run.Final.Reason);
        Assert.Equal(5, steps);                                  // step 1 prefilled and sampled, steps 2-5 decoded
        Assert.Equal(5, run.Final.Usage.CompletionTokens);
        Assert.Equal(4, run.Final.Timings.DecodeSteps);
        Assert.Equal(LlmSessionState.Fresh, session.State);
        Assert.Equal(0, engine.Statistics.UsedCells);
    }

    [Fact]
    public async Task LeavingTheStreamEarlyCancelsTheGeneration()
    {
        using var engine = models.Load();
        using var session = engine.CreateSession(keepHistory: true);
        // Each step waits a little for the reader to leave, so a reader starved by a loaded machine still leaves
        // before the 500 tokens are done (otherwise the run ends by length and holds its history).
        using var left = new ManualResetEventSlim();
        engine.Scheduler.StepObserver = _ => left.Wait(100);
        await foreach (var e in engine.GenerateAsync(session, [PromptSegment.Text("the cat sits")],
                           SamplingParams.Greedy(500) with { IgnoreEos = true }))
            if (e is TextPiece) break;
        left.Set();
        // The session is released once the loop sees the cancel.
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (session.IsBusy && DateTime.UtcNow < deadline) await Task.Delay(10);
        Assert.False(session.IsBusy);
        Assert.Equal(LlmSessionState.Fresh, session.State);
        Assert.True(engine.Statistics.Steps < 400);
    }

    [Fact]
    public async Task AnAlreadyCancelledTokenGivesACancelledFinishWithoutWork()
    {
        using var engine = models.Load();
        using var session = engine.CreateSession();
        var run = await Collected.From(engine.GenerateAsync(session, [PromptSegment.Text("the cat")], SamplingParams.Greedy(4),
            new CancellationToken(canceled: true)));
        Assert.Equal(FinishReason.Cancelled, run.Final.Reason);
        Assert.Equal(0, run.Final.Usage.PrefilledTokens);
    }
}
