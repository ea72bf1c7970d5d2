using RegionChat.Llm.Gguf;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace RegionChat.Llm.Twin.Internal;

/// <summary>
/// One llama block as llama.cpp builds it: x + attn(rms(x)), then h + down(silu(gate(rms(h))) · up(rms(h))).
/// Field names are the GGUF tensor names (blk.N.&lt;field&gt;.weight).
/// </summary>
internal sealed class LlamaTwinBlock : nn.Module<Tensor, Tensor, Tensor, Tensor>
{
    readonly LlamaShape c;

#pragma warning disable IDE1006 // GGUF names
    public readonly RmsNorm attn_norm;
    public readonly LinearWeight attn_q, attn_k, attn_v, attn_output;
    public readonly RmsNorm ffn_norm;
    public readonly LinearWeight ffn_gate, ffn_up, ffn_down;
#pragma warning restore IDE1006

    public LlamaTwinBlock(LlamaShape c) : base(nameof(LlamaTwinBlock))
    {
        this.c = c;
        long d = c.EmbeddingLength;
        attn_norm = new RmsNorm(d, c.RmsEps);
        attn_q = new LinearWeight(d, d);
        attn_k = new LinearWeight(d, c.KvDim);
        attn_v = new LinearWeight(d, c.KvDim);
        attn_output = new LinearWeight(d, d);
        ffn_norm = new RmsNorm(d, c.RmsEps);
        ffn_gate = new LinearWeight(d, c.FeedForward);
        ffn_up = new LinearWeight(d, c.FeedForward);
        ffn_down = new LinearWeight(c.FeedForward, d);
        RegisterComponents();
    }

    /// <summary>x [B, T, D]; cos/sin [T, n_rot/2].</summary>
    public override Tensor forward(Tensor x, Tensor cos, Tensor sin)
    {
        using var scope = torch.NewDisposeScope();
        var h = x.add(Attention(attn_norm.forward(x), cos, sin), TwinScalars.One);
        var n = ffn_norm.forward(h);
        var y = h.add(ffn_down.forward(F.silu(ffn_gate.forward(n)) * ffn_up.forward(n)), TwinScalars.One);
        return scope.MoveToOuter(y);
    }

    Tensor Attention(Tensor x, Tensor cos, Tensor sin)
    {
        long b = x.shape[0], t = x.shape[1];
        int heads = c.Heads, kvHeads = c.KvHeads, dh = c.HeadDim;
        var q = RotaryTable.Apply(attn_q.forward(x).view(b, t, heads, dh), cos, sin);
        var k = RotaryTable.Apply(attn_k.forward(x).view(b, t, kvHeads, dh), cos, sin);
        var v = attn_v.forward(x).view(b, t, kvHeads, dh);
        // [B, H, T, Dh]; query head i reads KV head i / (H / Hkv), as ggml's broadcast in mul_mat does.
        q = q.transpose(1, 2);
        k = k.transpose(1, 2);
        v = v.transpose(1, 2);
        if (kvHeads != heads)
        {
            k = k.repeat_interleave(heads / kvHeads, 1);
            v = v.repeat_interleave(heads / kvHeads, 1);
        }
        var o = F.scaled_dot_product_attention(q, k, v, is_casual: true);
        return attn_output.forward(o.transpose(1, 2).reshape(b, t, heads * dh));
    }
}
