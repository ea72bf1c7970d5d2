using RegionChat.Llm.Twin;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace RegionChat.Training.Llava.Internal;

/// <summary>Next-token cross-entropy of the twin over the positions a batch's targets mark, and the argmax accuracy there.</summary>
internal static class LlavaLoss
{
    // Static roots: a temporary Scalar can be finalised mid-call (RegionChat.Vision.RootedScalars says why).
    static readonly TorchSharp.Scalar Ignore = TokenBatch.Ignore;

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

    /// <summary>
    /// Conversations: each row's text runs with the visual tokens of its images between them (images [M, N, D] in row
    /// order, then turn order), right-padded; the tokens each sequence marks as counted (answers, EOS) count.
    /// </summary>
    public static (Tensor Loss, Tensor Accuracy) Chat(LlamaTwin llm, Tensor visualTokens, IReadOnlyList<LlavaChatSequence> sequences)
    {
        int images = sequences.Sum(s => s.Images);
        if (visualTokens.shape[0] != images)
            throw new ArgumentException($"{visualTokens.shape[0]} images for conversations that show {images}");
        int perImage = (int)visualTokens.shape[1];
        int textTokens = sequences.Sum(s => s.Texts.Sum(t => t.Length));
        int width = sequences.Max(s => s.Length(perImage));
        int padRow = textTokens + images * perImage;   // the source rows: text embeddings, visual rows, one zero row
        var ids = new long[textTokens];
        var index = new long[sequences.Count * width];
        var targets = new long[sequences.Count * width];
        Array.Fill(index, padRow);
        Array.Fill(targets, TokenBatch.Ignore);
        int text = 0, image = 0;
        for (int b = 0; b < sequences.Count; b++)
        {
            int pos = 0;
            var s = sequences[b];
            for (int r = 0; r < s.Texts.Count; r++)
            {
                for (int i = 0; i < s.Texts[r].Length; i++, pos++)
                {
                    ids[text] = s.Texts[r][i];
                    index[b * width + pos] = text++;
                    if (s.Counted[r][i] && pos > 0) targets[b * width + pos - 1] = s.Texts[r][i];
                }
                if (r == s.Images) break;
                for (int k = 0; k < perImage; k++, pos++) index[b * width + pos] = textTokens + image * perImage + k;
                image++;
            }
        }
        using var scope = NewDisposeScope();
        long dim = visualTokens.shape[2];
        var textEmbeddings = llm.Embed(tensor(ids));
        var source = cat([textEmbeddings, visualTokens.reshape(-1, dim).to(textEmbeddings.dtype), zeros(1, dim, dtype: textEmbeddings.dtype)], 0);
        var embeddings = source.index_select(0, tensor(index)).reshape(sequences.Count, width, dim);
        var logits = llm.forward(embeddings);
        var (loss, accuracy) = Score(logits, tensor(targets, [sequences.Count, width]));
        return (loss.MoveToOuterDisposeScope(), accuracy.MoveToOuterDisposeScope());
    }

    static (Tensor Loss, Tensor Accuracy) Score(Tensor logits, Tensor targets)
    {
        long vocab = logits.shape[^1];
        var flatLogits = logits.reshape(-1, vocab);
        var flatTargets = targets.reshape(-1);
        var loss = F.cross_entropy(flatLogits, flatTargets, ignore_index: TokenBatch.Ignore);
        using var _ = no_grad();
        var counted = flatTargets.ne(Ignore);
        var hits = flatLogits.argmax(-1).eq(flatTargets).logical_and(counted);
        var accuracy = hits.sum().to(ScalarType.Float32) / counted.sum().clamp_min(RegionChat.Vision.RootedScalars.One).to(ScalarType.Float32);
        return (loss, accuracy);
    }
}
