using RegionChat.Data.Shapes;

namespace RegionChat.Data.Tests.Shapes;

public class ShapesCorpusTests
{
    [Fact]
    public void Words_cover_every_text_of_many_scenes_and_nothing_else_is_needed()
    {
        var words = ShapesCorpus.Words.ToHashSet();
        var used = new HashSet<string>();
        foreach (var e in ShapesCorpus.Examples(1_000_000_000, 500))
            foreach (string text in new[] { e.Question, e.Answer })
                foreach (string piece in text.Split(' '))
                {
                    string word = piece.TrimEnd('?');
                    Assert.Contains(word, words);
                    used.Add(word);
                }
        foreach (string word in ShapesText.SystemLine.Split(' ')) used.Add(word);
        // every listed word is actually used (500 scenes cover every attribute)
        Assert.Empty(words.Except(used));
        Assert.All(ShapesCorpus.Words, w => Assert.Matches("^[a-z]+$", w));
        Assert.Equal(ShapesCorpus.Words.Order(StringComparer.Ordinal), ShapesCorpus.Words);
    }

    [Fact]
    public void Tokens_split_off_the_question_mark()
    {
        Assert.Equal(new[] { "what", "color", "is", "it", "?" }, ShapesCorpus.Tokens("what color is it?"));
        Assert.Equal(new[] { "a", "large", "red", "circle" }, ShapesCorpus.Tokens("a large red circle"));
    }

    [Fact]
    public void AllRegionQa_enumerates_every_attribute_combination()
    {
        var all = ShapesCorpus.AllRegionQa().ToList();
        Assert.Equal(5 * 6 * 2 * 4, all.Count);
        Assert.Equal(5 * 6 * 2, all.Where(q => q.Question == "describe this region").Select(q => q.Answer).Distinct().Count());
        Assert.Contains(new ShapesQa("describe this region", "a small orange diamond"), all);
    }

    [Fact]
    public void Examples_hold_image_then_region_questions_with_training_text()
    {
        var scene = ShapesGenerator.Generate(42);
        var examples = ShapesCorpus.Examples(scene).ToList();
        Assert.Equal(2 + 4 * scene.Objects.Count, examples.Count);
        Assert.Null(examples[0].ObjectIndex);
        Assert.Equal("describe the image", examples[0].Question);
        Assert.Equal(scene.Caption, examples[0].Answer);
        Assert.Equal(0, examples[2].ObjectIndex);
        Assert.Equal($"a chat about shapes USER: <image>\ndescribe this region ASSISTANT: {scene.Objects[0].Caption}", examples[2].TrainingText);
        Assert.All(examples, e => Assert.Equal(42, e.Seed));
    }
}
