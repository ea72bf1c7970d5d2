using TorchSharp;
using RegionChat.TestSupport;
using RegionChat.Training.Clip;
using static TorchSharp.torch;

namespace RegionChat.Training.Tests.Clip;

[Collection(TorchStateCollection.Name)]
public class ClipTextTransformerTests
{
    static ClipTextTransformer Tiny(long seed = 1)
    {
        manual_seed(seed);
        return new ClipTextTransformer(ClipTextConfig.ForShapes(32, 2, 2, 16), ClipTokenizer.ForShapes());
    }

    [Fact]
    public void State_dict_uses_clip_text_names()
    {
        using var model = Tiny();
        var keys = model.state_dict().Keys.ToHashSet();
        foreach (string k in new[] { "token_embedding.weight", "positional_embedding", "ln_final.weight", "ln_final.bias", "text_projection",
                     "transformer.resblocks.1.attn.in_proj.weight", "transformer.resblocks.1.attn.out_proj.bias",
                     "transformer.resblocks.0.ln_1.weight", "transformer.resblocks.0.ln_2.bias",
                     "transformer.resblocks.0.mlp.c_fc.weight", "transformer.resblocks.0.mlp.c_proj.weight" })
            Assert.Contains(k, keys);
        Assert.Equal(5 + 2 * 12, keys.Count);   // 5 outside the blocks, 12 per block
    }

    [Fact]
    public void Features_do_not_depend_on_padding_or_batch_neighbours()
    {
        using var model = Tiny();
        using var alone = model.EncodeTexts(["a small blue cross"]);
        using var padded = model.EncodeTexts(["a large red circle a small green square and a large blue cross", "a small blue cross"]);
        Assert.True(alone[0].allclose(padded[1], rtol: 1e-5, atol: 1e-6));
    }

    [Fact]
    public void Attention_is_causal_and_read_at_the_end_token()
    {
        using var model = Tiny();
        var t = (ClipTokenizer)model.Tokenizer;
        long[] caption = t.Encode("a small blue cross").Select(i => (long)i).ToArray();   // 6 tokens, end at 5
        long red = t.Encode("red")[1], large = t.Encode("large")[1];
        long[] afterEndChanged = [.. caption, red, large];
        long[] padded = [.. caption, ClipTokenizer.PadId, ClipTokenizer.PadId];
        long[] wordChanged = [.. padded];
        wordChanged[3] = red;   // "a small red cross"
        using var _ = no_grad();
        using var tokens = tensor(padded.Concat(afterEndChanged).Concat(wordChanged).ToArray(), [3, 8]);
        using var features = model.forward(tokens, tensor(new long[] { 5, 5, 5 }));
        Assert.True(features[0].allclose(features[1]), "tokens after the end token changed its features: attention is not causal");
        Assert.False(features[0].allclose(features[2], atol: 1e-4), "a changed word did not change the features");
    }

    [Fact]
    public void Saved_tower_reloads_with_identical_outputs()
    {
        using var temp = new TempDir();
        using var model = Tiny(seed: 7);
        ClipTowerFiles.SaveText(model, temp.Path, logitScale: 12.5);
        using var loaded = ClipTowerFiles.LoadText(temp.Path);
        Assert.Equal(model.Config, loaded.Config);
        Assert.Equal(((ClipTokenizer)model.Tokenizer).Vocabulary, ((ClipTokenizer)loaded.Tokenizer).Vocabulary);
        Assert.Equal(12.5, ClipTowerFiles.ReadLogitScale(temp.Path));
        string[] texts = ["a large red circle", "a small orange diamond and a large green triangle"];
        using var a = model.EncodeTexts(texts);
        using var b = loaded.EncodeTexts(texts);
        Assert.True(a.equal(b).all().ToBoolean());
    }

    [Fact]
    public void Corrupt_text_files_give_clear_errors()
    {
        using var temp = new TempDir();
        using var model = Tiny();
        ClipTowerFiles.SaveText(model, temp.Path);
        string json = Path.Combine(temp.Path, ClipTowerFiles.TextConfig);
        File.WriteAllText(json, File.ReadAllText(json).Replace("\"width\": 32", "\"width\": 48"));
        var e = Assert.Throws<InvalidDataException>(() => ClipTowerFiles.LoadText(temp.Path));
        Assert.Contains("shape", e.Message);
        File.WriteAllText(json, "{\"width\": 3}");
        Assert.Throws<InvalidDataException>(() => ClipTowerFiles.LoadText(temp.Path));
    }
}
