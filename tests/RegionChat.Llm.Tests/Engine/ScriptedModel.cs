using RegionChat.Llm.Gguf;

namespace RegionChat.Llm.Tests.Engine;

/// <summary>
/// A GGUF whose greedy output is known: every block's attn_output and ffn_down are zero, so the hidden state is the
/// last token's embedding; token chain[i] embeds as the unit vector e_i and output row chain[i+1] reads e_i strongly.
/// After a prompt ending in chain[0] the model greedily emits chain[1], chain[2], … (ending with EOS stops it).
/// </summary>
public static class ScriptedModel
{
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
