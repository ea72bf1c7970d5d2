using RegionChat.Training.Llava;
using RegionChat.Data.Shapes;
using RegionChat.Training.Llava.Internal;

namespace RegionChat.Training.Tests.Llava;

/// <summary>The chat-tuning mix: the relation share and the "left of" share of the sampler are the ones asked for, the
/// training-only follow-ups ask and answer what they say, the default shares pick the relation questions uniformly, and
/// a share of 0 draws none of its questions.</summary>
public class ChatMixTests
{
    static (int Later, int Relations, int LeftOf, List<string> Questions) Count(LlavaChatSampler sampler, int steps)
    {
        int later = 0, relations = 0, leftOf = 0;
        var questions = new List<string>();
        for (int step = 1; step <= steps; step++)
            for (int i = 0; i < 8; i++)
            {
                var turns = sampler.Draw(step, i, 5, 0.25, 0.3);
                later += turns.Count - 1;
                foreach (var t in turns.Skip(1))
                {
                    questions.Add(t.Sample.Question);
                    if (!ShapesChatText.RelationQuestions.Contains(t.Sample.Question)) continue;
                    relations++;
                    if (t.Sample.Question == ShapesChatText.LeftOf) leftOf++;
                }
            }
        return (later, relations, leftOf, questions);
    }

    [Fact]
    public void RelationAndLeftOfSharesAreTheOnesAskedFor()
    {
        var uniform = Count(new LlavaChatSampler(3, 0x51, 64), 60);
        var heavy = Count(new LlavaChatSampler(3, 0x51, 64, relationShare: 0.6, leftOfShare: 0.7), 60);
        Assert.InRange(uniform.LeftOf / (double)uniform.Relations, 0.15, 0.35);
        Assert.InRange(heavy.LeftOf / (double)heavy.Relations, 0.6, 0.8);
        // Relation turns need two regions shown before, so their share of later turns is below the setting, but it grows with it.
        Assert.True(heavy.Relations / (double)heavy.Later > 1.5 * uniform.Relations / uniform.Later,
            $"relations {heavy.Relations}/{heavy.Later} vs {uniform.Relations}/{uniform.Later}");
    }

    [Fact]
    public void TheDefaultSharesDrawWhatAUniformPickDraws()
    {
        var byDefault = Count(new LlavaChatSampler(5, 0x77, 64), 400).Questions;
        var counts = ShapesChatText.RelationQuestions.Select(q => byDefault.Count(x => x == q)).ToArray();
        double mean = counts.Average();
        Assert.True(mean > 80, $"only {counts.Sum()} relation questions");
        Assert.All(counts, c => Assert.InRange(c, 0.7 * mean, 1.3 * mean));
    }

    /// <summary>The turns without an image of 8 conversations per step, each with the region shown last and the one
    /// shown before it (null when there is none), tracked as SPEC.md says: a new image forgets the earlier regions.</summary>
    static IEnumerable<(LlavaChatTurn Turn, ShapesObject? Last, ShapesObject? Before)> TextTurns(LlavaChatSampler sampler, int steps)
    {
        for (int step = 1; step <= steps; step++)
            for (int i = 0; i < 8; i++)
            {
                ShapesObject? last = null, before = null;
                foreach (var t in sampler.Draw(step, i, 5, 0.25, 0.3))
                {
                    if (!t.ShowsImage)
                    {
                        yield return (t, last, before);
                        continue;
                    }
                    // A region turn shows its region (null for the whole image).
                    bool sameImage = last is not null && t.Sample.Scene.Objects.Contains(last);
                    before = sameImage && t.Sample.Region is not null && t.Sample.Region != last ? last : null;
                    last = t.Sample.Region;
                }
            }
    }

    [Fact]
    public void PreviousRegionFollowUpsAskAboutTheRegionBeforeTheLatest()
    {
        int asked = 0;
        foreach (var (t, last, before) in TextTurns(new LlavaChatSampler(9, 0x33, 64, previousShare: 1), 40))
        {
            if (!ShapesChatText.PreviousRegionQuestions.Contains(t.Sample.Question)) continue;
            asked++;
            Assert.NotNull(before);
            Assert.Equal(ShapesChatText.PreviousRegionAnswer(t.Sample.Question, before!), t.Sample.Answer);
            Assert.Same(last, t.Sample.Region);
        }
        Assert.True(asked > 20, $"only {asked} questions about the previous region");
        // At share 0 (the recipe's default) none is drawn.
        Assert.DoesNotContain(Count(new LlavaChatSampler(5, 0x77, 64), 40).Questions, q => ShapesChatText.PreviousRegionQuestions.Contains(q));
    }

    [Fact]
    public void PositionFollowUpsAskWhereTheRegionIs()
    {
        int latest = 0, previous = 0, yes = 0;
        foreach (var (t, last, before) in TextTurns(new LlavaChatSampler(6, 0x44, 64, previousShare: 0.8, positionShare: 1), 120))
        {
            // At share 1 every follow-up about the latest region asks where it is.
            Assert.DoesNotContain(t.Sample.Question, ShapesChatText.FollowUpQuestions);
            var about = t.Sample.Question switch { ShapesChatText.IsItLeft => last, ShapesChatText.PreviousLeft => before, _ => null };
            if (about is null) continue;
            if (t.Sample.Question == ShapesChatText.IsItLeft) latest++; else previous++;
            bool left = ShapesChatText.VisibleCentreX2(about) < ShapesSpec.CanvasSize;
            Assert.Equal(left ? ShapesChatText.Yes : ShapesChatText.No, t.Sample.Answer);
            if (left) yes++;
        }
        Assert.True(latest > 100 && previous > 10, $"{latest} questions about the latest region, {previous} about the previous one");
        Assert.InRange(yes / (double)(latest + previous), 0.3, 0.7);
        // At share 0 (the default) none is drawn, while the previous-region questions still come.
        var noPosition = Count(new LlavaChatSampler(5, 0x77, 64, previousShare: 0.5), 40).Questions;
        Assert.DoesNotContain(noPosition, q => q is ShapesChatText.IsItLeft or ShapesChatText.PreviousLeft);
        Assert.Contains(noPosition, q => ShapesChatText.PreviousRegionQuestions.Contains(q));
    }

    [Fact]
    public void MatchShareMakesTheSameRelationsTrueMoreOften()
    {
        static double YesShare(LlavaChatSampler sampler)
        {
            int yes = 0, asked = 0;
            for (int step = 1; step <= 60; step++)
                for (int i = 0; i < 8; i++)
                    foreach (var t in sampler.Draw(step, i, 5, 0.25, 0.3).Skip(1))
                        if (t.Sample.Question is ShapesChatText.SameColour or ShapesChatText.SameShape)
                        {
                            asked++;
                            if (t.Sample.Answer == ShapesChatText.Yes) yes++;
                        }
            return yes / (double)asked;
        }
        double plain = YesShare(new LlavaChatSampler(4, 0x21, 256, relationShare: 0.5)),
            matched = YesShare(new LlavaChatSampler(4, 0x21, 256, relationShare: 0.5, matchShare: 1));
        Assert.True(matched > plain + 0.1, $"'yes' share {matched:F3} with matching regions vs {plain:F3} without");
    }

    [Fact]
    public void BudgetStepsAreTheShareAskedForAndTheSameOnEveryRun()
    {
        var options = new InstructionTuneOptions { Seed = 7, VisualTokenBudgetShare = 0.25, VisualTokenBudget = 17 };
        var budgets = Enumerable.Range(1, 2000).Select(options.BudgetOfStep).ToList();
        Assert.All(budgets, b => Assert.True(b is 0 or 17, $"budget {b}"));
        Assert.InRange(budgets.Count(b => b == 17) / 2000.0, 0.22, 0.28);
        Assert.Equal(budgets, Enumerable.Range(1, 2000).Select((options with { }).BudgetOfStep));
        Assert.NotEqual(budgets, Enumerable.Range(1, 2000).Select((options with { Seed = 8 }).BudgetOfStep));
        Assert.All(Enumerable.Range(1, 200), step => Assert.Equal(0, new InstructionTuneOptions { Seed = 7 }.BudgetOfStep(step)));
    }
}
