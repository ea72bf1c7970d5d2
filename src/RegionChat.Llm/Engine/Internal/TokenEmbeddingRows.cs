using RegionChat.Llm.Gguf;

namespace RegionChat.Llm.Engine.Internal;

/// <summary>
/// The rows of a llama model's token_embd table, so that tokens can go into a decode step as embedding rows.
/// llama.cpp takes one input kind per llama_decode, so a step holding image rows used to decode its tokens (the
/// question after the image, other sequences' next tokens) in a second call, and the text after an image waited a
/// whole step. For the llama architecture an embedding row is exactly what llama.cpp's get_rows makes of the token
/// (no input scale); the table decodes the stored type as ggml does (F32, F16, BF16 and Q8_0 are a conversion or one
/// multiply per value, the k-quants two operations in ggml's order; the tests find the logits of either way
/// identical). Other architectures and types get no table and keep two calls per step.
/// </summary>
internal sealed class TokenEmbeddingRows : IDisposable
{
    const string TensorName = "token_embd.weight";
    // Decoded whole up to this size (shapes-tiny's is 0.2 MB); larger tables are read row by row from the file, whose
    // pages llama.cpp's own mapping of it keeps in memory.
    const long MaxDecodedBytes = 64L << 20;

    readonly GgufFile? file;
    readonly float[]? decoded;

    TokenEmbeddingRows(GgufFile? file, float[]? decoded, int width, int vocab)
    {
        this.file = file;
        this.decoded = decoded;
        Width = width;
        VocabSize = vocab;
    }

    public int Width { get; }
    public int VocabSize { get; }

    /// <summary>The table of the GGUF at <paramref name="path"/>, or null with the reason it cannot serve as one.</summary>
    public static TokenEmbeddingRows? TryOpen(string path, int width, int vocab, out string? reason)
    {
        GgufFile? file = null;
        try
        {
            file = GgufFile.Open(path);
            reason = Refusal(file, width, vocab);
            if (reason != null) return null;
            if ((long)width * vocab * sizeof(float) <= MaxDecodedBytes)
            {
                var rows = new float[width * vocab];
                file.ReadTensorRows(TensorName, 0, vocab, rows);
                return new TokenEmbeddingRows(null, rows, width, vocab);
            }
            var table = new TokenEmbeddingRows(file, null, width, vocab);
            file = null;
            return table;
        }
        catch (Exception e) when (e is IOException or GgufFormatException or NotSupportedException)
        {
            reason = $"the GGUF's token_embd could not be read: {e.Message}";
            return null;
        }
        finally
        {
            file?.Dispose();
        }
    }

    static string? Refusal(GgufFile file, int width, int vocab)
    {
        string? arch = file.GetStringOrNull("general.architecture");
        if (arch != "llama") return $"architecture {arch ?? "(none)"} is not llama";
        if (file.Contains("llama.embedding_scale")) return "the model scales its input embeddings";
        if (!file.TryGetTensorInfo(TensorName, out var t)) return $"the GGUF has no {TensorName}";
        if (!GgmlTypeInfo.CanDecode(t.Type)) return $"{TensorName} is {t.Type}, not one decoded exactly here (F32, F16, BF16, Q8_0, Q4_K, Q5_K, Q6_K)";
        if (t.Ne.Count != 2 || t.Ne[0] != width || t.Ne[1] < vocab) return $"{TensorName} is [{string.Join(", ", t.Ne)}], not [{width}, {vocab}]";
        return null;
    }

    /// <summary>Writes the row of <paramref name="token"/> into <paramref name="destination"/> (Width floats).</summary>
    public void Read(int token, Span<float> destination)
    {
        if ((uint)token >= (uint)VocabSize) throw new ArgumentOutOfRangeException(nameof(token), token, $"token id outside [0, {VocabSize})");
        if (decoded != null) decoded.AsSpan(token * Width, Width).CopyTo(destination);
        else file!.ReadTensorRows(TensorName, token, 1, destination[..Width]);
    }

    public void Dispose() => file?.Dispose();
}
