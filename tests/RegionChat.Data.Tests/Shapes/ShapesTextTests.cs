using RegionChat.Data.Shapes;

namespace RegionChat.Data.Tests.Shapes;

public class ShapesTextTests
{
    [Fact]
    public void Region_caption_always_has_article_a_and_a_size()
    {
        Assert.Equal("a large red circle", ShapesText.RegionCaption(ShapeSize.Large, ShapeColor.Red, ShapeKind.Circle));
        Assert.Equal("a small orange cross", ShapesText.RegionCaption(ShapeSize.Small, ShapeColor.Orange, ShapeKind.Cross));
    }

    [Fact]
    public void Image_caption_joins_with_and_before_the_last_and_no_commas()
    {
        Assert.Equal("a large red circle", ShapesText.ImageCaption(["a large red circle"]));
        Assert.Equal("a large red circle and a small blue square",
            ShapesText.ImageCaption(["a large red circle", "a small blue square"]));
        Assert.Equal("a large red circle a small blue square and a large green triangle",
            ShapesText.ImageCaption(["a large red circle", "a small blue square", "a large green triangle"]));
        Assert.Equal("a small red cross a large red circle a small blue square and a large green triangle",
            ShapesText.ImageCaption(["a small red cross", "a large red circle", "a small blue square", "a large green triangle"]));
        Assert.Throws<ArgumentException>(() => ShapesText.ImageCaption([]));
    }

    [Fact]
    public void Questions_and_count_words_are_the_spec_strings()
    {
        Assert.Equal(new[] { "describe this region", "what color is it?", "what shape is it?", "is it small or large?" }, ShapesText.RegionQuestions);
        Assert.Equal(new[] { "describe the image", "how many objects are there?" }, ShapesText.ImageQuestions);
        Assert.Equal("one", ShapesText.CountWord(1));
        Assert.Equal("four", ShapesText.CountWord(4));
        Assert.Throws<ArgumentOutOfRangeException>(() => ShapesText.CountWord(0));
        Assert.Throws<ArgumentOutOfRangeException>(() => ShapesText.CountWord(5));
    }

    [Fact]
    public void Prompt_is_llava_v1_shaped_with_the_system_line()
    {
        Assert.Equal("a chat about shapes USER: <image>\nwhat color is it? ASSISTANT:", ShapesText.Prompt("what color is it?"));
        Assert.Equal("a chat about shapes USER: <image>\nwhat color is it? ASSISTANT: red", ShapesText.PromptWithAnswer("what color is it?", "red"));
    }
}
