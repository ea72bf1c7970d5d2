using RegionChat.Training.Clip;
using RegionChat.Training.Clip.Internal;
using RegionChat.Data.Shapes;

namespace RegionChat.Training.Llava.Internal;

/// <summary>
/// Conversations of 1..maxTurns turns as a pure function of (seed, stage salt, step, index). The first turn is the
/// single-turn row <see cref="LlavaSampler"/> draws; each later turn is, by its own coin flip, a new region of the same
/// image (mask or box, sometimes the whole image; its visual tokens injected again), a follow-up about the most recent
/// region, a relation question about it and the region before it, or a region of a new image (another scene), after
/// which the conversation is about that image. A follow-up or relation turn that has no region to refer to becomes a
/// new-region turn.
/// </summary>
internal sealed class LlavaChatSampler
{
    const ulong TurnsSalt = 0x7A125, KindSalt = 0x4B1D0, ObjectSalt = 0x0B1EC8, QuestionSalt = 0x9E572, BoxSalt = 0xB0C6,
        WholeSalt = 0x3401F, DescribeSalt = 0xDE5C, NewImageSalt = 0x2E1A6E, PreviousSalt = 0x9BE7, MatchSalt = 0x3A7C,
        PositionSalt = 0xA0C5;

    // Later-turn kinds (cumulative): new image, relation (the options' share), follow-up, else a new region of the same image.
    const double NewImageShare = 0.15, FollowUpShare = 0.20;

    // Of new-region turns: the whole image, and "describe this region" (the rest ask colour / shape / size).
    const double LaterWholeShare = 0.1, DescribeShare = 0.5;

    readonly LlavaSampler firstTurns;
    readonly SceneStream data;
    readonly SceneStream newImages;

    // At the default share a relation turn with no two regions to relate falls through to a follow-up (the stream the
    // committed model was tuned on); at any other share it becomes a new-region turn, so relations grow with the share.
    const double DefaultRelationShare = 0.30;

    readonly double relationShare, leftOfShare, previousShare, matchShare, positionShare;

    public LlavaChatSampler(long seed, ulong stageSalt, long? scenePool, double relationShare = DefaultRelationShare, double leftOfShare = 0.25,
        double previousShare = 0, double matchShare = 0, double positionShare = 0)
    {
        this.relationShare = relationShare;
        this.leftOfShare = leftOfShare;
        this.previousShare = previousShare;
        this.matchShare = matchShare;
        this.positionShare = positionShare;
        firstTurns = new LlavaSampler(seed, stageSalt, scenePool);
        data = new SceneStream(seed, stageSalt ^ 0xC4A7, scenePool);
        newImages = new SceneStream(seed, stageSalt ^ NewImageSalt, scenePool);
    }

    public IReadOnlyList<LlavaChatTurn> Draw(int step, int index, int maxTurns, double wholeFraction, double boxFraction)
    {
        var first = firstTurns.Draw(step, index, wholeFraction, boxFraction, ShapesText.ImageQuestions, ShapesText.RegionQuestions);
        var turns = new List<LlavaChatTurn> { new(first, true) };
        int count = 1 + Math.Min((int)(data.Uniform(step, index, TurnsSalt) * maxTurns), maxTurns - 1);
        var scene = first.Scene;
        ShapesObject? last = first.Region, before = null;
        for (int t = 1; t < count; t++)
        {
            ulong turn = (ulong)t << 32;
            double kind = data.Uniform(step, index, KindSalt ^ turn);
            double question = data.Uniform(step, index, QuestionSalt ^ turn);
            if (kind < NewImageShare)
            {
                scene = ShapesGenerator.Generate(newImages.SceneSeed(step, index * 8 + t));
                turns.Add(RegionTurn(scene, null, step, index, turn, boxFraction, out last));
                before = null;
            }
            else if (kind < NewImageShare + relationShare && last is not null && before is not null)
            {
                string q = RelationQuestion(question);
                turns.Add(new(new LlavaSample(scene, last, RegionAlphaMode.Mask, q, ShapesChatText.RelationAnswer(q, last, before)), false));
            }
            else if (kind < NewImageShare + relationShare + FollowUpShare && last is not null
                     && (kind >= NewImageShare + relationShare || relationShare == DefaultRelationShare))
            {
                // A follow-up about the region before the latest: it trains the LLM to fetch that region's colour and shape,
                // which the "same ... as the previous one?" comparisons need (without it they stayed at always "no").
                // "Is it to the left?" (with the projector's region-position map) is what taught "left of" (RECIPE.md, q6).
                bool aboutPrevious = before is not null && data.Uniform(step, index, PreviousSalt ^ turn) < previousShare;
                bool aboutPosition = !aboutPrevious && positionShare > 0 && data.Uniform(step, index, PositionSalt ^ turn) < positionShare;
                var previousQuestions = positionShare > 0 ? ShapesChatText.PreviousRegionQuestionsWithPosition : ShapesChatText.PreviousRegionQuestions;
                string q = aboutPrevious ? Pick(previousQuestions, question)
                    : aboutPosition ? ShapesChatText.IsItLeft : Pick(ShapesChatText.FollowUpQuestions, question);
                string answer = aboutPrevious ? ShapesChatText.PreviousRegionAnswer(q, before!) : ShapesChatText.FollowUpAnswer(q, last);
                turns.Add(new(new LlavaSample(scene, last, RegionAlphaMode.Mask, q, answer), false));
            }
            else
            {
                var previous = last;
                turns.Add(RegionTurn(scene, last, step, index, turn, boxFraction, out last));
                before = last is not null && previous is not null && last != previous ? previous : null;
            }
        }
        return turns;
    }

    /// <summary>A turn that shows <paramref name="scene"/> with a region other than <paramref name="avoid"/> (when the
    /// scene has another), or sometimes the whole image (then <paramref name="shown"/> is null).</summary>
    LlavaChatTurn RegionTurn(ShapesScene scene, ShapesObject? avoid, int step, int index, ulong turn, double boxFraction, out ShapesObject? shown)
    {
        double question = data.Uniform(step, index, QuestionSalt ^ turn ^ 1);
        if (data.Uniform(step, index, WholeSalt ^ turn) < LaterWholeShare)
        {
            shown = null;
            var qa = scene.Qa[Math.Min((int)(question * scene.Qa.Count), scene.Qa.Count - 1)];
            return new(LlavaSample.Whole(scene, qa), true);
        }
        var candidates = scene.Objects.Where(o => o != avoid).ToList();
        if (candidates.Count == 0) candidates = [.. scene.Objects];
        // Sometimes a region that shares the last one's colour or shape: the "same" relations then get more "yes" truths.
        if (avoid is not null && data.Uniform(step, index, MatchSalt ^ turn) < matchShare)
        {
            var matching = candidates.Where(o => o.Color == avoid.Color || o.Shape == avoid.Shape).ToList();
            if (matching.Count > 0) candidates = matching;
        }
        var region = Pick(candidates, data.Uniform(step, index, ObjectSalt ^ turn));
        var mode = data.Uniform(step, index, BoxSalt ^ turn) < boxFraction ? RegionAlphaMode.Box : RegionAlphaMode.Mask;
        var chosen = data.Uniform(step, index, DescribeSalt ^ turn) < DescribeShare
            ? region.Qa[0]
            : region.Qa[1 + Math.Min((int)(question * (region.Qa.Count - 1)), region.Qa.Count - 2)];
        shown = region;
        return new(LlavaSample.OfRegion(scene, region, mode, chosen), true);
    }

    /// <summary>A relation question: "left of" (the last of the four) with its share, the other three evenly. At the
    /// default share, a quarter, this is the uniform pick over the four that runs drew before the share existed.</summary>
    string RelationQuestion(double u)
    {
        var others = ShapesChatText.RelationQuestions.Where(q => q != ShapesChatText.LeftOf).ToList();
        return u >= 1 - leftOfShare ? ShapesChatText.LeftOf : Pick(others, u / (1 - leftOfShare));
    }

    static T Pick<T>(IReadOnlyList<T> items, double u) => items[Math.Min((int)(u * items.Count), items.Count - 1)];
}
