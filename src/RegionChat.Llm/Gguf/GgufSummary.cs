using System.Globalization;

namespace RegionChat.Llm.Gguf;

/// <summary>A human-readable summary of a GGUF file (what `regionchat llm info` prints), as label/value lines.</summary>
public static class GgufSummary
{
    public static IReadOnlyList<(string Label, string Value)> Describe(GgufFile f)
    {
        ArgumentNullException.ThrowIfNull(f);
        var lines = new List<(string, string)>();
        void Line(string label, string? value)
        {
            if (value != null) lines.Add((label, value));
        }
        string? Str(string key) => f.TryGet(key, out var v) ? Show(v) : null;

        Line("file", $"{f.Path} ({FormatBytes(f.FileSize)})");
        Line("gguf", $"v{f.Version}, alignment {f.Alignment}, {f.MetadataInOrder.Count} metadata keys, {f.Tensors.Count} tensors");
        string arch = f.GetStringOrNull("general.architecture") ?? "?";
        Line("architecture", arch);
        Line("name", f.GetStringOrNull("general.name"));
        if (f.GetInt64OrNull("general.file_type") is long ft) Line("file type", FileTypeName(ft));

        string a = arch + ".";
        Line("embedding", Str(a + "embedding_length"));
        Line("layers", Str(a + "block_count"));
        if (f.Contains(a + "attention.head_count"))
        {
            string heads = Str(a + "attention.head_count")!;
            string? kv = Str(a + "attention.head_count_kv");
            Line("heads", kv != null ? $"{heads} (kv heads {kv})" : heads);
        }
        Line("feed-forward", Str(a + "feed_forward_length"));
        Line("context", Str(a + "context_length"));
        if (f.Contains(a + "rope.freq_base") || f.Contains(a + "rope.dimension_count"))
            Line("rope", $"base {Str(a + "rope.freq_base") ?? "default"}, dims {Str(a + "rope.dimension_count") ?? "head size"}");
        Line("rms eps", Str(a + "attention.layer_norm_rms_epsilon"));

        if (f.TryGet("tokenizer.ggml.tokens", out var tokens) && tokens.IsArray)
        {
            string ids = string.Join(", ", new[] { ("bos", "bos_token_id"), ("eos", "eos_token_id"), ("unk", "unknown_token_id") }
                .Where(p => f.Contains("tokenizer.ggml." + p.Item2))
                .Select(p => $"{p.Item1} {Str("tokenizer.ggml." + p.Item2)}"));
            Line("vocab", $"{tokens.ArrayLength} tokens, tokenizer {f.GetStringOrNull("tokenizer.ggml.model") ?? "?"}{(ids.Length > 0 ? ", " + ids : "")}");
        }
        if (f.GetStringOrNull("tokenizer.chat_template") is string template)
        {
            string first = template.Split('\n')[0];
            Line("chat template", $"{template.Length} chars: {(first.Length > 60 ? first[..60] + "…" : first)}");
        }
        else if (f.Contains("tokenizer.ggml.model")) Line("chat template", "(none)");

        foreach (string key in new[] { "clip.projector_type", "clip.vision.image_size", "clip.vision.patch_size",
                     "clip.vision.embedding_length", "clip.vision.block_count", "clip.vision.feature_layer" })
            Line(key, Str(key));

        var histogram = f.Tensors.GroupBy(t => t.Type).OrderByDescending(g => g.Count()).ThenBy(g => g.Key)
            .Select(g => $"{g.Key} ×{g.Count()}");
        Line("tensor types", f.Tensors.Count == 0 ? "(no tensors)" : string.Join(", ", histogram));
        long parameters = f.Tensors.Sum(t => t.ElementCount);
        Line("parameters", FormatCount(parameters));
        return lines;
    }

    // llama.cpp's enum llama_ftype (the weights' main encoding).
    static string FileTypeName(long t) => t switch
    {
        0 => "0 (all F32)",
        1 => "1 (mostly F16)",
        2 => "2 (mostly Q4_0)",
        3 => "3 (mostly Q4_1)",
        7 => "7 (mostly Q8_0)",
        8 => "8 (mostly Q5_0)",
        9 => "9 (mostly Q5_1)",
        10 => "10 (mostly Q2_K)",
        11 => "11 (mostly Q3_K_S)",
        12 => "12 (mostly Q3_K_M)",
        13 => "13 (mostly Q3_K_L)",
        14 => "14 (mostly Q4_K_S)",
        15 => "15 (mostly Q4_K_M)",
        16 => "16 (mostly Q5_K_S)",
        17 => "17 (mostly Q5_K_M)",
        18 => "18 (mostly Q6_K)",
        32 => "32 (mostly BF16)",
        _ => t.ToString(CultureInfo.InvariantCulture),
    };

    static string Show(GgufValue v) => v.Type switch
    {
        GgufValueType.String => v.AsString(),
        GgufValueType.Float32 => ((float)v.Value).ToString("G6", CultureInfo.InvariantCulture),
        GgufValueType.Float64 => ((double)v.Value).ToString("G6", CultureInfo.InvariantCulture),
        _ => v.ToString(),
    };

    static string FormatBytes(long bytes) => bytes switch
    {
        >= 1L << 30 => $"{bytes / (double)(1L << 30):F2} GiB",
        >= 1L << 20 => $"{bytes / (double)(1L << 20):F1} MiB",
        >= 1L << 10 => $"{bytes / 1024.0:F1} KiB",
        _ => $"{bytes} bytes",
    };

    static string FormatCount(long n) => n switch
    {
        >= 1_000_000_000 => $"{n / 1e9:F2} B ({n:N0})",
        >= 1_000_000 => $"{n / 1e6:F2} M ({n:N0})",
        _ => n.ToString("N0", CultureInfo.InvariantCulture),
    };
}
