using RegionChat.Llm.Twin;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace RegionChat.Training.Llava.Internal;

/// <summary>Next-token cross-entropy of the twin over the positions a batch's targets mark, and the argmax accuracy there.</summary>
internal static class LlavaLoss
{
    /// <summary>Plain text rows (BOS … EOS): every token after BOS counts.</summary>
    public static (Tensor Loss, Tensor Accuracy) Text(LlamaTwin llm, IReadOnlyList<int[]> rows, int padId)
    {
        using var scope = NewDisposeScope();
        var ids = TokenBatch.Ids(rows, padId);
        var targets = TokenBatch.Targets(rows, 0, rows.Select(_ => 1).ToArray());
        var logits = llm.forward(ids);
        var (loss, accuracy) = Score(logits, targets);
        return (loss.MoveToOuterDisposeScope(), accuracy.MoveToOuterDisposeScope());
    }

    /// <summary>
    /// Image sequences: the shared BOS + system prefix, the visual tokens [B, N, D] (gradients flow into them when they
    /// require grad), then each row's question and answer; only the answer tokens (and EOS) count.
    /// </summary>
    public static (Tensor Loss, Tensor Accuracy) Answers(LlamaTwin llm, Tensor visualTokens, IReadOnlyList<LlavaSequence> sequences, int padId)
    {
        var prefix = sequences[0].BeforeImage;
        if (sequences.Any(s => !s.BeforeImage.AsSpan().SequenceEqual(prefix)))
            throw new ArgumentException("the sequences of a batch must share the text before the image");
        if (visualTokens.shape[0] != sequences.Count)
            throw new ArgumentException($"{visualTokens.shape[0]} images for {sequences.Count} sequences");
        using var scope = NewDisposeScope();
        var tails = sequences.Select(s => (int[])[.. s.AfterImage, .. s.Answer]).ToList();
        using var prefixIds = tensor(prefix.Select(i => (long)i).ToArray());
        var tailIds = TokenBatch.Ids(tails, padId);
        int offset = prefix.Length + (int)visualTokens.shape[1];
        var targets = TokenBatch.Targets(tails, offset, sequences.Select(s => s.AfterImage.Length).ToArray());
        var logits = llm.Forward([LlamaTwinSegment.Tokens(prefixIds), LlamaTwinSegment.Embeddings(visualTokens), LlamaTwinSegment.Tokens(tailIds)]);
        var (loss, accuracy) = Score(logits, targets);
        return (loss.MoveToOuterDisposeScope(), accuracy.MoveToOuterDisposeScope());
    }

    static (Tensor Loss, Tensor Accuracy) Score(Tensor logits, Tensor targets)
    {
        long vocab = logits.shape[^1];
        var flatLogits = logits.reshape(-1, vocab);
        var flatTargets = targets.reshape(-1);
        var loss = F.cross_entropy(flatLogits, flatTargets, ignore_index: TokenBatch.Ignore);
        using var _ = no_grad();
        var counted = flatTargets.ne(TokenBatch.Ignore);
        var hits = flatLogits.argmax(-1).eq(flatTargets).logical_and(counted);
        var accuracy = hits.sum().to(ScalarType.Float32) / counted.sum().clamp_min(1).to(ScalarType.Float32);
        return (loss, accuracy);
    }
}
