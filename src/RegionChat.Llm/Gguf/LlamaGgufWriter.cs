using RegionChat.Llm.Vocabulary;

namespace RegionChat.Llm.Gguf;

/// <summary>
/// Writes a llama-architecture GGUF that llama.cpp loads: general.* and llama.* keys, the tokenizer, and every tensor
/// of <see cref="LlamaShape.Tensors"/>. Norms are always F32 (llama.cpp needs 1-D tensors in f32); the 2-D weights use
/// the requested type. Weights come from the caller (a trainer's real weights, or <see cref="LlamaGgufSynth"/>'s
/// random ones) as floats in ggml order: row-major with ne[0] innermost, i.e. PyTorch's [out, in] layout.
/// </summary>
public static class LlamaGgufWriter
{
    /// <summary>Weights given whole, one float[] per tensor name, produced only when that tensor is written.</summary>
    public static void Write(string path, LlamaShape shape, LlamaVocabulary vocabulary, Func<string, float[]> tensorByName,
        GgmlType weightType, LlamaGgufOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(tensorByName);
        var writer = Create(shape, vocabulary, weightType, options);
        foreach (var spec in shape.Tensors())
            writer.AddTensor(spec.Name, spec.Ne, spec.IsNorm ? GgmlType.F32 : weightType, () => tensorByName(spec.Name));
        writer.Write(path);
    }

    /// <summary>Weights from a dictionary keyed by GGUF tensor name (every tensor must be present).</summary>
    public static void Write(string path, LlamaShape shape, LlamaVocabulary vocabulary, IReadOnlyDictionary<string, float[]> tensors,
        GgmlType weightType, LlamaGgufOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        var missing = shape.Tensors().Select(t => t.Name).Where(n => !tensors.ContainsKey(n)).ToList();
        if (missing.Count > 0) throw new ArgumentException($"llama GGUF: {missing.Count} tensors missing, e.g. {string.Join(", ", missing.Take(3))}");
        Write(path, shape, vocabulary, name => tensors[name], weightType, options);
    }

    /// <summary>Weights streamed in chunks of rows (for tensors too big to hold whole).</summary>
    public static void Write(string path, LlamaShape shape, LlamaVocabulary vocabulary, Func<LlamaTensorSpec, TensorRowsProducer> rowsOf,
        GgmlType weightType, LlamaGgufOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(rowsOf);
        var writer = Create(shape, vocabulary, weightType, options);
        foreach (var spec in shape.Tensors())
            writer.AddTensor(spec.Name, spec.Ne, spec.IsNorm ? GgmlType.F32 : weightType, rowsOf(spec));
        writer.Write(path);
    }

    /// <summary>A writer holding the metadata of a llama GGUF and no tensors yet (add them in <see cref="LlamaShape.Tensors"/> order).</summary>
    public static GgufWriter Create(LlamaShape shape, LlamaVocabulary vocabulary, GgmlType weightType, LlamaGgufOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(shape);
        ArgumentNullException.ThrowIfNull(vocabulary);
        options ??= new LlamaGgufOptions();
        shape.Validate();
        if (vocabulary.Count != shape.VocabSize)
            throw new ArgumentException($"llama GGUF: the vocabulary has {vocabulary.Count} tokens but the shape says {shape.VocabSize}");
        uint fileType = weightType switch
        {
            GgmlType.F32 => 0,
            GgmlType.F16 => 1,
            GgmlType.Q8_0 => 7,
            GgmlType.BF16 => 32,
            _ => throw new ArgumentException($"llama GGUF weights can be F32, F16, BF16 or Q8_0, not {weightType}", nameof(weightType)),
        };
        int block = GgmlTypeInfo.BlockSize(weightType);
        if (shape.EmbeddingLength % block != 0 || shape.FeedForward % block != 0)
            throw new ArgumentException($"llama GGUF: {weightType} needs the embedding ({shape.EmbeddingLength}) and feed-forward ({shape.FeedForward}) " +
                $"lengths to be multiples of {block}");

        var w = new GgufWriter(options.Alignment);
        w.AddString("general.architecture", "llama");
        w.AddString("general.name", options.Name);
        w.AddUInt32("general.file_type", fileType);
        w.AddUInt32("llama.context_length", (uint)shape.ContextLength);
        w.AddUInt32("llama.embedding_length", (uint)shape.EmbeddingLength);
        w.AddUInt32("llama.block_count", (uint)shape.Layers);
        w.AddUInt32("llama.feed_forward_length", (uint)shape.FeedForward);
        w.AddUInt32("llama.attention.head_count", (uint)shape.Heads);
        w.AddUInt32("llama.attention.head_count_kv", (uint)shape.KvHeads);
        w.AddFloat32("llama.attention.layer_norm_rms_epsilon", shape.RmsEps);
        w.AddFloat32("llama.rope.freq_base", shape.RopeFreqBase);
        w.AddUInt32("llama.rope.dimension_count", (uint)shape.HeadDim);
        w.AddUInt32("llama.vocab_size", (uint)shape.VocabSize);
        vocabulary.WriteTo(w);
        if (options.ChatTemplate != null) w.AddString("tokenizer.chat_template", options.ChatTemplate);
        options.ExtraMetadata?.Invoke(w);
        return w;
    }
}

/// <summary>Optional parts of a llama GGUF.</summary>
public sealed record LlamaGgufOptions
{
    public string Name { get; init; } = "regionchat-llama";
    public string? ChatTemplate { get; init; }
    public int Alignment { get; init; } = GgufWriter.DefaultAlignment;

    /// <summary>Adds further keys (e.g. training provenance) after the standard ones.</summary>
    public Action<GgufWriter>? ExtraMetadata { get; init; }
}
