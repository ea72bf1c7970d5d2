using RegionChat.Data.Metrics;

namespace RegionChat.Data.Tests.Metrics;

public class CaptionTokenizerTests
{
    [Theory]
    [InlineData("A man's dog, (black) sits.", "a man 's dog -lrb- black -rrb- sits")]
    [InlineData("Don't stop; they're here!", "do n't stop they 're here")]
    [InlineData("I can't, I cannot, I won't", "i ca n't i can not i wo n't")]
    [InlineData("A black-and-white cat on 3.5 km of U.S. road...", "a black-and-white cat on 3.5 km of u.s. road")]
    [InlineData("\u201CHello\u201D \u2014 she said\u2026", "hello she said")]
    [InlineData("the dogs' bowls at 10:30 cost 1,000 dollars", "the dogs bowls at 10:30 cost 1,000 dollars")]
    [InlineData("It's five o'clock, Mr. Smith", "it 's five o'clock mr. smith")]
    [InlineData("a dog: ok? yes! `quoted' and/or [x] {y}", "a dog ok yes quoted and/or -lsb- x -rsb- -lcb- y -rcb-")]
    [InlineData("50% off & $5 -- now", "50 % off & $ 5 now")]
    [InlineData("  Two\tlines\nhere  ", "two lines here")]
    [InlineData("...", "")]
    public void Tokenizes_like_the_ptb_pipeline(string text, string expected)
    {
        Assert.Equal(expected.Split(' ', StringSplitOptions.RemoveEmptyEntries), CaptionTokenizer.Tokenize(text));
    }

    [Fact]
    public void Pretokenized_splits_on_spaces_only()
    {
        Assert.Equal(["A", "Dog,", "runs"], CaptionTokenizer.SplitPretokenized(" A  Dog, runs "));
        Assert.Contains("U+0009", Assert.Throws<ArgumentException>(() => CaptionTokenizer.SplitPretokenized("a\tb")).Message);
    }
}
