using System.Diagnostics;
using RegionChat.Inference;

namespace RegionChat.Cli.Commands;

/// <summary>A whole image turn through the serving core that stops at its first token (image bytes in), timed from
/// handing the request over to the first text, for the benchmarks that compare times to first token.</summary>
internal static class FirstTokenTurn
{
    internal sealed record Result(double TtftMs, TurnStarted Started, TurnFinished Finished);

    /// <param name="visualTokenBudget">The request's visual_token_budget (null: the model's).</param>
    public static async Task<Result> RunAsync(RegionChatCore core, ServerBenchmark.Prompt p, long? visualTokenBudget, CancellationToken ct)
    {
        var request = new TurnRequest
        {
            Messages = [TurnMessage.User(p.Question, new TurnImage(ImageInput.FromBytes(p.Png), RegionSource.Of(p.Region)))],
            Sampling = new SamplingOptions { MaxTokens = 1 },
            VisualTokenBudget = visualTokenBudget,
        };
        var clock = Stopwatch.StartNew();
        double first = -1;
        TurnStarted? started = null;
        TurnFinished? finished = null;
        await foreach (var e in core.RunTurnAsync(request, ct).ConfigureAwait(false))
        {
            switch (e)
            {
                case TurnStarted s: started = s; break;
                case TurnText when first < 0: first = clock.Elapsed.TotalMilliseconds; break;
                case TurnFinished f: finished = f; break;
            }
        }
        if (started == null || finished == null || finished.Reason == TurnFinishReason.Cancelled)
            throw new OperationCanceledException("the RegionChat turn was cancelled");
        if (finished.Timings.VisualCacheHit) throw new InvalidOperationException("the visual-token cache answered a benchmark image");
        return new Result(first < 0 ? clock.Elapsed.TotalMilliseconds : first, started, finished);
    }
}
