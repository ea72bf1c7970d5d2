using System.Text.Json.Nodes;
using RegionChat.Training.Clip;
using RegionChat.Training.Evaluation;
using RegionChat.Data.Shapes;

namespace RegionChat.Training.Tests.Evaluation;

public class ShapesEvalScoresTests
{
    static readonly IReadOnlyList<ShapesScene> Scenes = ShapesGenerator.GenerateMany(ShapesSeeds.TestStart + 40, 6).ToList();

    /// <summary>The right answer to every ask; the whole-image "describe this region" answers with the leftmost object.</summary>
    static string Right(ShapesEvalAsk a)
    {
        var scene = Scenes[a.SceneIndex];
        if (a.ObjectIndex is int o) return scene.Objects[o].Qa.Single(q => q.Question == a.Question).Answer;
        return a.Question == ShapesText.DescribeRegion ? scene.ObjectsLeftToRight[0].Caption : ShapesText.CountWord(scene.Objects.Count);
    }

    [Fact]
    public void AsksEveryRegionFormAndQuestionTypeOnce()
    {
        var asks = ShapesEvalAsk.For(Scenes);
        int regions = Scenes.Sum(s => s.Objects.Count);
        Assert.Equal(2 * Scenes.Count + 5 * regions, asks.Count);
        Assert.Equal(asks.Count, asks.Distinct().Count());
        Assert.Equal(Scenes.Count, asks.Count(a => a.Mode == RegionAlphaMode.Whole && a.Question == ShapesText.DescribeRegion));
        Assert.Equal(regions, asks.Count(a => a.Mode == RegionAlphaMode.Box));
        Assert.All(asks.Where(a => a.Mode != RegionAlphaMode.Whole), a => Assert.NotNull(a.ObjectIndex));
    }

    [Fact]
    public void RightAnswersScoreOneAndTheWholeImageAtMostOneObjectPerScene()
    {
        var asks = ShapesEvalAsk.For(Scenes);
        var scores = ShapesEvalScores.Score(Scenes, asks, asks.Select(Right).ToList());
        int regions = Scenes.Sum(s => s.Objects.Count);
        Assert.Equal(new ShapesEvalFraction(regions, regions), scores.CaptionExact[RegionAlphaMode.Mask]);
        Assert.Equal(new ShapesEvalFraction(regions, regions), scores.CaptionExact[RegionAlphaMode.Box]);
        // One answer per scene can equal only the captions it names: here the leftmost object's (and any twin of it).
        int wholeMatches = Scenes.Sum(s => s.Objects.Count(o => o.Caption == s.ObjectsLeftToRight[0].Caption));
        Assert.Equal(new ShapesEvalFraction(wholeMatches, regions), scores.CaptionExact[RegionAlphaMode.Whole]);
        Assert.True(wholeMatches < regions, "the scenes must hold more objects than scenes for this test to mean anything");
        Assert.Equal(10.0, scores.CiderD[RegionAlphaMode.Mask], 9);
        Assert.Equal(10.0, scores.CiderD[RegionAlphaMode.Box], 9);
        Assert.InRange(scores.CiderD[RegionAlphaMode.Whole], 0.1, 9.9);
        foreach (var type in ShapesEvalScores.QaTypes)
            Assert.Equal(1.0, scores.Qa[type].Value);
        Assert.Equal(Scenes.Count, scores.Qa[ShapesEvalScores.Count].Total);
        Assert.Equal(regions, scores.Qa[ShapesEvalScores.Color].Total);
    }

    [Fact]
    public void EachFigureCountsOnlyItsOwnAnswers()
    {
        var asks = ShapesEvalAsk.For(Scenes);
        // Right only for the box captions, the colour question, and the objects drawn first.
        var answers = asks.Select(a =>
            (a.Mode == RegionAlphaMode.Box && a.Question == ShapesText.DescribeRegion) || a.Question == ShapesText.WhatColor
            || (a.ObjectIndex == 0 && a.Mode == RegionAlphaMode.Mask) ? Right(a) : "a small").ToList();
        var scores = ShapesEvalScores.Score(Scenes, asks, answers);
        int regions = Scenes.Sum(s => s.Objects.Count);
        Assert.Equal(new ShapesEvalFraction(Scenes.Count, regions), scores.CaptionExact[RegionAlphaMode.Mask]);
        Assert.Equal(new ShapesEvalFraction(regions, regions), scores.CaptionExact[RegionAlphaMode.Box]);
        Assert.Equal(new ShapesEvalFraction(0, regions), scores.CaptionExact[RegionAlphaMode.Whole]);
        Assert.Equal(new ShapesEvalFraction(regions, regions), scores.Qa[ShapesEvalScores.Color]);
        Assert.Equal(new ShapesEvalFraction(Scenes.Count, regions), scores.Qa[ShapesEvalScores.Shape]);
        // "a small" is never an exact size answer ("small"): only the first objects' answers count.
        Assert.Equal(new ShapesEvalFraction(Scenes.Count, regions), scores.Qa[ShapesEvalScores.Size]);
        Assert.Equal(0, scores.Qa[ShapesEvalScores.Count].Correct);
    }

    [Fact]
    public void MissingOrExtraAnswersAreRefused()
    {
        var asks = ShapesEvalAsk.For(Scenes);
        Assert.Throws<ArgumentException>(() => ShapesEvalScores.Score(Scenes, asks, asks.Skip(1).Select(Right).ToList()));
        Assert.Throws<ArgumentException>(() => ShapesEvalScores.Score(Scenes, asks.Skip(1).ToList(), asks.Skip(1).Select(Right).ToList()));
    }

    [Fact]
    public void OptionsOutOfRangeNameTheFlag()
    {
        Assert.Contains("--scenes", Assert.Throws<ArgumentOutOfRangeException>(() => new ShapesEvalOptions { Scenes = 0 }.Validate()).Message);
        Assert.Contains("--parallel", Assert.Throws<ArgumentOutOfRangeException>(() => new ShapesEvalOptions { Parallel = 1000 }.Validate()).Message);
        Assert.Contains("--seed", Assert.Throws<ArgumentOutOfRangeException>(() => new ShapesEvalOptions { FirstSeed = -1 }.Validate()).Message);
    }
}
