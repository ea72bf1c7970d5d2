using RegionChat.Training.Clip;
using RegionChat.Training.Clip.Internal;
using RegionChat.Data.Shapes;

namespace RegionChat.Training.Llava.Internal;

/// <summary>
/// The samples of a step as a pure function of (seed, stage salt, step, index): each index draws its own train scene,
/// then a whole-image or region question, the object, and mask or box alpha from independent coin flips.
/// </summary>
internal sealed class LlavaSampler(long seed, ulong stageSalt, long? scenePool)
{
    const ulong WholeSalt = 0x3401E, ObjectSalt = 0x0B1EC7, QuestionSalt = 0x9E571, BoxSalt = 0xB0C5;

    readonly SceneStream data = new(seed, stageSalt, scenePool);

    /// <summary>
    /// A sample of the index-th row: with probability <paramref name="wholeFraction"/> a whole-image question from
    /// <paramref name="wholeQuestions"/> (all-ones alpha), else a question from <paramref name="regionQuestions"/>
    /// about a uniformly drawn object, shown by its box with probability <paramref name="boxFraction"/>, else its mask.
    /// </summary>
    public LlavaSample Draw(int step, int index, double wholeFraction, double boxFraction,
        IReadOnlyList<string> wholeQuestions, IReadOnlyList<string> regionQuestions)
    {
        var scene = ShapesGenerator.Generate(data.SceneSeed(step, index));
        if (data.Uniform(step, index, WholeSalt) < wholeFraction)
        {
            string q = Pick(wholeQuestions, data.Uniform(step, index, QuestionSalt));
            return LlavaSample.Whole(scene, scene.Qa.Single(qa => qa.Question == q));
        }
        var region = Pick(scene.Objects, data.Uniform(step, index, ObjectSalt));
        string question = Pick(regionQuestions, data.Uniform(step, index, QuestionSalt));
        var mode = data.Uniform(step, index, BoxSalt) < boxFraction ? RegionAlphaMode.Box : RegionAlphaMode.Mask;
        return LlavaSample.OfRegion(scene, region, mode, region.Qa.Single(qa => qa.Question == question));
    }

    static T Pick<T>(IReadOnlyList<T> items, double u) => items[Math.Min((int)(u * items.Count), items.Count - 1)];
}
