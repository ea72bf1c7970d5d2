using System.Runtime.InteropServices;
using RegionChat.Llm.Gguf;
using RegionChat.Llm.Vocabulary;
using TorchSharp;
using static TorchSharp.torch;

namespace RegionChat.Llm.Twin;

// GGUF load/save. A GGUF tensor with ne = [n0, n1] (innermost first) is the torch tensor [n1, n0]: rows are ne[0] long
// in both, so the data copies straight across.
public sealed partial class LlamaTwin
{
    /// <summary>Loads a llama GGUF (F32, F16, BF16 or Q8_0 tensors, dequantised to f32).</summary>
    /// <exception cref="GgufFormatException">The file is not a llama GGUF this twin can run, or its tensors do not fit its keys.</exception>
    public static LlamaTwin FromGguf(string path)
    {
        using var file = GgufFile.Open(path);
        return FromGguf(file);
    }

    /// <inheritdoc cref="FromGguf(string)"/>
    public static LlamaTwin FromGguf(GgufFile file)
    {
        ArgumentNullException.ThrowIfNull(file);
        var shape = ReadShape(file);
        var specs = shape.Tensors();
        // Check every tensor before allocating the model, so a corrupt header cannot ask for a huge allocation.
        foreach (var spec in specs)
        {
            if (!file.TryGetTensorInfo(spec.Name, out var info))
                throw new GgufFormatException($"{file.Path}: tensor '{spec.Name}' is missing");
            if (!info.Ne.SequenceEqual(spec.Ne))
                throw new GgufFormatException($"{file.Path}: tensor '{spec.Name}' has ne [{string.Join(", ", info.Ne)}], the llama.* keys imply " +
                    $"[{string.Join(", ", spec.Ne)}]");
            if (!GgmlTypeInfo.IsFloatCodec(info.Type))
                throw new GgufFormatException($"{file.Path}: tensor '{spec.Name}' is {info.Type}; the twin reads F32, F16, BF16 and Q8_0");
        }
        var known = specs.Select(s => s.Name).ToHashSet(StringComparer.Ordinal);
        var extra = file.Tensors.FirstOrDefault(t => !known.Contains(t.Name));
        if (extra != null)
            throw new GgufFormatException($"{file.Path}: tensor '{extra.Name}' is not part of the plain llama architecture the twin implements");

        var twin = Uninitialised(shape);
        var parameters = twin.named_parameters().ToDictionary(p => p.name, p => p.parameter, StringComparer.Ordinal);
        using var noGrad = torch.no_grad();
        foreach (var spec in specs) ReadInto(file, spec, parameters[spec.Name]);
        return twin;
    }

    /// <summary>
    /// Writes this model as a llama GGUF llama.cpp runs: the llama.* keys of <see cref="Shape"/>, the tokenizer of
    /// <paramref name="vocabulary"/>, norms in F32 and the other weights as <paramref name="weightType"/>
    /// (F32, F16, BF16 or Q8_0).
    /// </summary>
    public void SaveGguf(string path, LlamaVocabulary vocabulary, GgmlType weightType = GgmlType.F32, LlamaGgufOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(vocabulary);
        var parameters = named_parameters().ToDictionary(p => p.name, p => p.parameter, StringComparer.Ordinal);
        LlamaGgufWriter.Write(path, Shape, vocabulary, spec => Rows(parameters[spec.Name]), weightType, options);
    }

    /// <summary>The llama.* hyperparameters of a GGUF, checked the way llama.cpp checks them.</summary>
    public static LlamaShape ReadShape(GgufFile file)
    {
        ArgumentNullException.ThrowIfNull(file);
        try
        {
            return ReadShapeUnchecked(file);
        }
        catch (InvalidCastException e)
        {
            // A key of an unexpected type (e.g. per-layer arrays of head counts).
            throw new GgufFormatException($"{file.Path}: {e.Message}", e);
        }
    }

    static LlamaShape ReadShapeUnchecked(GgufFile file)
    {
        string arch = file.GetStringOrNull("general.architecture") ?? throw new GgufFormatException($"{file.Path}: general.architecture is missing");
        if (arch != "llama") throw new GgufFormatException($"{file.Path}: architecture '{arch}' is not llama");
        if (!file.TryGetTensorInfo("token_embd.weight", out var embd) || embd.Ne.Count != 2)
            throw new GgufFormatException($"{file.Path}: token_embd.weight is missing or not 2-D");

        int Int(string key, int? fallback = null)
        {
            long? v = file.Contains(key) ? file.GetInt64(key) : fallback;
            if (v is null) throw new GgufFormatException($"{file.Path}: {key} is missing");
            if (v <= 0 || v > int.MaxValue) throw new GgufFormatException($"{file.Path}: {key} = {v} is out of range");
            return (int)v.Value;
        }
        int heads = Int("llama.attention.head_count");
        int embedding = Int("llama.embedding_length");
        if (embedding % heads != 0) throw new GgufFormatException($"{file.Path}: embedding length {embedding} is not a multiple of {heads} heads");
        int headDim = embedding / heads;
        // llama.cpp refuses llama files whose rotary or key/value sizes differ from the head size.
        foreach (var key in new[] { "llama.rope.dimension_count", "llama.attention.key_length", "llama.attention.value_length" })
            if (file.Contains(key) && Int(key) != headDim)
                throw new GgufFormatException($"{file.Path}: {key} = {Int(key)} differs from the head size {headDim}");
        string? scaling = file.GetStringOrNull("llama.rope.scaling.type");
        if (scaling is not (null or "none"))
            throw new GgufFormatException($"{file.Path}: rope scaling '{scaling}' is not implemented by the twin");

        var shape = new LlamaShape(
            EmbeddingLength: embedding,
            Layers: Int("llama.block_count"),
            Heads: heads,
            KvHeads: Int("llama.attention.head_count_kv", heads),
            FeedForward: Int("llama.feed_forward_length"),
            VocabSize: checked((int)embd.Ne[1]),
            ContextLength: Int("llama.context_length"),
            RopeFreqBase: (float)(file.GetFloat64OrNull("llama.rope.freq_base") ?? 10000.0),
            RmsEps: file.Contains("llama.attention.layer_norm_rms_epsilon")
                ? file.GetFloat32("llama.attention.layer_norm_rms_epsilon")
                : throw new GgufFormatException($"{file.Path}: llama.attention.layer_norm_rms_epsilon is missing"),
            TiedOutput: !file.TryGetTensorInfo("output.weight", out _));
        try
        {
            shape.Validate();
        }
        catch (ArgumentException e)
        {
            throw new GgufFormatException($"{file.Path}: {e.Message}", e);
        }
        return shape;
    }

    static void ReadInto(GgufFile file, LlamaTensorSpec spec, Tensor parameter)
    {
        long rowLength = spec.Ne[0];
        long rows = spec.ElementCount / rowLength;
        // Decode straight into the parameter's storage (Tensor.bytes spans it), 4 MB of floats at a time.
        int rowsPerSlice = (int)Math.Clamp((1L << 20) / rowLength, 1, rows);
        using var byRow = parameter.view(rows, rowLength);
        for (long first = 0; first < rows; first += rowsPerSlice)
        {
            int n = (int)Math.Min(rowsPerSlice, rows - first);
            using var slice = byRow.narrow(0, first, n);
            file.ReadTensorRows(spec.Name, first, n, MemoryMarshal.Cast<byte, float>(slice.bytes));
        }
    }

    static TensorRowsProducer Rows(Tensor parameter)
    {
        Tensor? host = null;
        return (firstRow, rowCount, destination) =>
        {
            // Converted once, on first use, so only the tensor being written is copied (when it is not CPU f32 already).
            if (host is null)
            {
                using var flat = parameter.detach().to(ScalarType.Float32, torch.CPU).contiguous();
                host = flat.view(-1, parameter.shape[^1]);
            }
            using var slice = host.narrow(0, firstRow, rowCount);
            MemoryMarshal.Cast<byte, float>(slice.bytes).CopyTo(destination);
        };
    }
}
