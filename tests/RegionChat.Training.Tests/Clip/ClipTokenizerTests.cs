using TorchSharp;
using RegionChat.Training.Clip;
using RegionChat.Data.Shapes;

namespace RegionChat.Training.Tests.Clip;

public class ClipTokenizerTests
{
    [Fact]
    public void Shapes_vocabulary_starts_with_the_markers_then_the_corpus_words()
    {
        var t = ClipTokenizer.ForShapes();
        Assert.Equal(new[] { "<pad>", "<sot>", "<eot>" }, t.Vocabulary.Take(3));
        Assert.Equal(ShapesCorpus.Words, t.Vocabulary.Skip(3));
        Assert.Equal(32, t.ContextLength);
    }

    [Fact]
    public void Encodes_a_caption_as_start_words_end()
    {
        var t = ClipTokenizer.ForShapes();
        var ids = t.Encode("a large red circle");
        Assert.Equal(6, ids.Length);
        Assert.Equal(ClipTokenizer.StartId, ids[0]);
        Assert.Equal(ClipTokenizer.EndId, ids[^1]);
        Assert.Equal(new[] { "a", "large", "red", "circle" }, ids[1..^1].Select(i => t.Vocabulary[i]));
        Assert.Equal("a large red circle", t.Decode(ids));
    }

    [Fact]
    public void Every_prompt_and_whole_image_caption_fits_the_context()
    {
        var t = ClipTokenizer.ForShapes();
        foreach (string prompt in ZeroShotEvaluator.ClassPrompts) Assert.Equal(6, t.Encode(prompt).Length);
        // The longest caption: four objects → 4·4 words + "and" + 2 markers = 19 tokens.
        Assert.True(ShapesGenerator.GenerateMany(0, 300).Max(s => t.Encode(s.Caption).Length) <= 19);
    }

    [Fact]
    public void Batch_pads_to_the_longest_text_and_marks_end_positions()
    {
        var t = ClipTokenizer.ForShapes();
        var (tokens, ends) = ClipTextTransformer.Batch([.. new[] { "a small blue cross", "a large red circle and a small blue cross" }.Select(t.Tokenize)]);
        Assert.Equal(new long[] { 2, 11 }, tokens.shape);
        Assert.Equal(new long[] { 5, 10 }, ends.data<long>().ToArray());
        var row0 = tokens[0].data<long>().ToArray();
        Assert.Equal(ClipTokenizer.EndId, row0[5]);
        Assert.All(row0[6..], id => Assert.Equal(ClipTokenizer.PadId, id));
    }

    [Fact]
    public void Unknown_words_and_overlong_texts_are_rejected_with_clear_messages()
    {
        var t = ClipTokenizer.ForShapes(contextLength: 6);
        var unknown = Assert.Throws<ArgumentException>(() => t.Encode("a large pink circle"));
        Assert.Contains("'pink'", unknown.Message);
        var tooLong = Assert.Throws<ArgumentException>(() => t.Encode("a large red circle and"));
        Assert.Contains("context of 6", tooLong.Message);
        Assert.Throws<ArgumentException>(() => new ClipTokenizer(["a", "b", "c", "d"]));
        Assert.Throws<ArgumentException>(() => new ClipTokenizer(["<pad>", "<sot>", "<eot>", "x", "x"]));
    }
}
