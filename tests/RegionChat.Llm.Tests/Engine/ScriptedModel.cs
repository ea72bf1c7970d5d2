using RegionChat.Llm.Engine;
using RegionChat.Llm.Gguf;
using RegionChat.TestSupport;

namespace RegionChat.Llm.Tests.Engine;

/// <summary>
/// A GGUF whose greedy output is known: every block's attn_output and ffn_down are zero, so the hidden state is the
/// last token's embedding; token chain[i] embeds as the unit vector e_i and output row chain[i+1] reads e_i strongly.
/// After a prompt ending in chain[0] the model greedily emits chain[1], chain[2], … (ending with EOS stops it).
/// </summary>
public static class ScriptedModel
{
    /// <summary>After "a cat": " sits on the red chair", then end of generation.</summary>
    public static int[] CatSitsOnTheRedChair()
    {
        var v = TinyModels.Vocab;
        return [v.IdOf("▁cat"), v.IdOf("▁sits"), v.IdOf("▁on"), v.IdOf("▁the"), v.IdOf("▁red"), v.IdOf("▁chair"), v.EosId];
    }

    /// <summary>Writes the chain's model into <paramref name="dir"/> and loads it on one thread.</summary>
    public static LlmEngine Load(TempDir dir, IReadOnlyList<int> chain)
    {
        string path = dir.File("scripted.gguf");
        Write(path, chain);
        return LlmEngine.Load(new LlmEngineOptions { ModelPath = path, ContextSize = 256, Threads = 1, BatchThreads = 1 });
    }

    public static void Write(string path, IReadOnlyList<int> chain, ulong seed = 5)
    {
        var shape = TinyModels.Shape();
        int d = shape.EmbeddingLength;
        if (chain.Count > d) throw new ArgumentException("the chain must be shorter than the embedding width");
        if (chain.Distinct().Count() != chain.Count) throw new ArgumentException("chain tokens must be distinct");
        LlamaGgufWriter.Write(path, shape, TinyModels.Vocab, name =>
        {
            var spec = shape.Tensors().Single(t => t.Name == name);
            var data = LlamaGgufSynth.Generate(shape, spec, seed);
            if (name.EndsWith("attn_output.weight") || name.EndsWith("ffn_down.weight")) Array.Clear(data);
            else if (name == "output_norm.weight") Array.Fill(data, 1f);
            else if (name == "token_embd.weight")
                for (int i = 0; i < chain.Count; i++)
                {
                    var row = data.AsSpan(chain[i] * d, d);
                    row.Clear();
                    row[i] = 1f;
                }
            else if (name == "output.weight")
            {
                for (int k = 0; k < data.Length; k++) data[k] *= 0.05f;
                for (int i = 0; i + 1 < chain.Count; i++) data[chain[i + 1] * d + i] = 10f;
            }
            return data;
        }, GgmlType.F32);
    }
}
