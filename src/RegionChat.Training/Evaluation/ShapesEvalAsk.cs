using RegionChat.Training.Clip;
using RegionChat.Data.Shapes;

namespace RegionChat.Training.Evaluation;

/// <summary>
/// One generation of the evaluation: <see cref="Question"/> about scene <see cref="SceneIndex"/> (position in the
/// evaluated scene list), with object <see cref="ObjectIndex"/> shown as its mask or box, or the whole image
/// (<see cref="ObjectIndex"/> null, <see cref="Mode"/> Whole).
/// </summary>
public sealed record ShapesEvalAsk(int SceneIndex, int? ObjectIndex, RegionAlphaMode Mode, string Question)
{
    /// <summary>
    /// Every generation for a list of scenes, scene by scene. Per scene: "describe this region" and "how many objects
    /// are there?" with the whole image; then per object "describe this region" and the colour, shape and size
    /// questions with its mask, and "describe this region" with its box. The whole-image "describe this region" is
    /// asked once per scene: its prompt (image, all-ones alpha, question) is the same whichever object is meant, so
    /// its one answer is scored against every object's caption.
    /// </summary>
    public static IReadOnlyList<ShapesEvalAsk> For(IReadOnlyList<ShapesScene> scenes)
    {
        var asks = new List<ShapesEvalAsk>();
        for (int s = 0; s < scenes.Count; s++)
        {
            asks.Add(new(s, null, RegionAlphaMode.Whole, ShapesText.DescribeRegion));
            asks.Add(new(s, null, RegionAlphaMode.Whole, ShapesText.HowMany));
            foreach (var o in scenes[s].Objects)
            {
                asks.Add(new(s, o.Index, RegionAlphaMode.Mask, ShapesText.DescribeRegion));
                asks.Add(new(s, o.Index, RegionAlphaMode.Mask, ShapesText.WhatColor));
                asks.Add(new(s, o.Index, RegionAlphaMode.Mask, ShapesText.WhatShape));
                asks.Add(new(s, o.Index, RegionAlphaMode.Mask, ShapesText.SmallOrLarge));
                asks.Add(new(s, o.Index, RegionAlphaMode.Box, ShapesText.DescribeRegion));
            }
        }
        return asks;
    }
}
