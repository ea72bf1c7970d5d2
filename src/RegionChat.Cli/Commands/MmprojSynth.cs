using RegionChat.Llm.Gguf;

namespace RegionChat.Cli.Commands;

/// <summary>
/// Writes a llama.cpp LLaVA "mmproj" GGUF (CLIP vision tower + mlp2x_gelu projector) with seeded random weights, in the
/// layout of llama.cpp's LLaVA conversion (<c>mmproj-model-f16.gguf</c>): clip.* keys, <c>v.*</c> vision tensors with
/// the converter's legacy FFN names (<c>ffn_down</c> = fc1, <c>ffn_up</c> = fc2), matrices F16, vectors F32, and the
/// projector as <c>mm.0.*</c> / <c>mm.2.*</c>. Timing does not depend on the values, so `bench peer` can run llama.cpp's
/// own multimodal path at a real geometry without the 624 MB download.
/// </summary>
internal static class MmprojSynth
{
    public sealed record Shape(int Resolution, int Patch, int Width, int Layers, int Heads, int ProjectionDim);

    public static void Write(string path, Shape s, ulong seed = 11)
    {
        if (s.Resolution % s.Patch != 0) throw new ArgumentException($"image size {s.Resolution} is not a multiple of patch {s.Patch}");
        if (s.Width % s.Heads != 0) throw new ArgumentException($"vision width {s.Width} is not a multiple of {s.Heads} heads");
        long w = s.Width, ff = 4L * s.Width, e = s.ProjectionDim;
        long positions = (long)(s.Resolution / s.Patch) * (s.Resolution / s.Patch) + 1;
        var g = new GgufWriter();
        g.AddString("general.architecture", "clip");
        g.AddString("general.name", "regionchat bench peer synthetic mmproj (random weights)");
        g.AddUInt32("general.file_type", 1);
        g.AddBool("clip.has_text_encoder", false);
        g.AddBool("clip.has_vision_encoder", true);
        g.AddBool("clip.has_llava_projector", true);
        g.AddString("clip.projector_type", "mlp");
        g.AddBool("clip.use_gelu", false);
        g.AddUInt32("clip.vision.image_size", (uint)s.Resolution);
        g.AddUInt32("clip.vision.patch_size", (uint)s.Patch);
        g.AddUInt32("clip.vision.embedding_length", (uint)w);
        g.AddUInt32("clip.vision.feed_forward_length", (uint)ff);
        g.AddUInt32("clip.vision.projection_dim", (uint)e);
        g.AddUInt32("clip.vision.block_count", (uint)s.Layers);
        g.AddUInt32("clip.vision.attention.head_count", (uint)s.Heads);
        g.AddFloat32("clip.vision.attention.layer_norm_epsilon", 1e-5f);
        g.Add("clip.vision.image_mean", GgufValue.Array(new[] { 0.48145466f, 0.4578275f, 0.40821073f }));
        g.Add("clip.vision.image_std", GgufValue.Array(new[] { 0.26862954f, 0.26130258f, 0.27577711f }));

        ulong next = seed;
        void Matrix(string name, params long[] ne) => g.AddTensor(name, ne, GgmlType.F16, Random(next++, 0.02f));
        void Vector(string name, long n, float value) => g.AddTensor(name, [n], GgmlType.F32, (_, _, dst) => dst.Fill(value));

        Matrix("v.patch_embd.weight", s.Patch, s.Patch, 3, w);
        g.AddTensor("v.class_embd", [w], GgmlType.F32, Random(next++, 0.02f));
        Matrix("v.position_embd.weight", w, positions);
        Vector("v.pre_ln.weight", w, 1);
        Vector("v.pre_ln.bias", w, 0);
        for (int i = 0; i < s.Layers; i++)
        {
            string b = $"v.blk.{i}.";
            foreach (var m in new[] { "attn_q", "attn_k", "attn_v", "attn_out" })
            {
                Matrix(b + m + ".weight", w, w);
                Vector(b + m + ".bias", w, 0);
            }
            Vector(b + "ln1.weight", w, 1);
            Vector(b + "ln1.bias", w, 0);
            Matrix(b + "ffn_down.weight", w, ff);
            Vector(b + "ffn_down.bias", ff, 0);
            Matrix(b + "ffn_up.weight", ff, w);
            Vector(b + "ffn_up.bias", w, 0);
            Vector(b + "ln2.weight", w, 1);
            Vector(b + "ln2.bias", w, 0);
        }
        Matrix("mm.0.weight", w, e);
        Vector("mm.0.bias", e, 0);
        Matrix("mm.2.weight", e, e);
        Vector("mm.2.bias", e, 0);
        g.Write(path);
    }

    /// <summary>Uniform values in ±<paramref name="scale"/> from a per-tensor splitmix64 stream keyed by the first row.</summary>
    static TensorRowsProducer Random(ulong tensorSeed, float scale) => (first, _, dst) =>
    {
        ulong state = (tensorSeed * 0x9E3779B97F4A7C15UL) ^ ((ulong)first * 0xBF58476D1CE4E5B9UL);
        for (int i = 0; i < dst.Length; i++)
        {
            ulong z = state += 0x9E3779B97F4A7C15UL;
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
            z ^= z >> 31;
            dst[i] = ((z >> 40) * (1f / (1 << 24)) * 2 - 1) * scale;
        }
    };
}
