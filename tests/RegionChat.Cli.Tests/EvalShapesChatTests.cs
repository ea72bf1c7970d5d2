using System.Text.Json.Nodes;
using RegionChat.TestSupport;
using RegionChat.Data.Shapes;

namespace RegionChat.Cli.Tests;

/// <summary>The chat part of `regionchat eval shapes` (issue 12): multi_turn figures next to every single-turn key.</summary>
public class EvalShapesChatTests
{
    [Fact]
    public async Task JsonHasTheMultiTurnFiguresOfTwoConversationsPerSceneWithTwoObjects()
    {
        using var dir = new TempDir();
        string model = TinyModel.Write(dir.File("tiny"));
        const int scenes = 6;
        var (exit, stdout, stderr) = await CliRunner.RunAsync("eval", "shapes", "--model", model, "--scenes", $"{scenes}", "--threads", "1",
            "--parallel", "4", "--json");
        Assert.True(exit == 0, stderr);
        Assert.Contains("| Chat (turns 2+, one session) |", stdout);

        var json = JsonNode.Parse(stdout.TrimEnd().Split('\n')[^1])!.AsObject();
        foreach (var group in new[] { "caption_exact", "cider", "qa", "zero_shot" }) Assert.NotNull(json[group]);
        var chat = json["multi_turn"]!.AsObject();
        var drawn = ShapesGenerator.GenerateMany(ShapesSeeds.TestStart, scenes).ToList();
        int withTwo = drawn.Count(s => s.Objects.Count >= 2);
        Assert.True(withTwo > 0, "the test's scenes need one with two objects");
        Assert.Equal(2 * withTwo, (int)chat["conversations"]!);
        foreach (var key in new[] { "later_region_exact", "followup", "relation", "new_image" })
            Assert.InRange(chat[key]!.GetValue<double>(), 0.0, 1.0);

        // The yes share of the relation truths, recomputed from the spec's rules for the pairs the conversations use:
        // scene s asks question (2s+k) mod 4 about object j against object i.
        int yes = 0, total = 0;
        for (int s = 0; s < scenes; s++)
        {
            var objects = drawn[s].Objects;
            if (objects.Count < 2) continue;
            for (int k = 0; k < 2; k++)
            {
                int i = (s + k) % objects.Count, j = (i + 1) % objects.Count;
                if (k == 1) (i, j) = (j, i);
                var (a, b) = (objects[i], objects[j]);
                bool truth = ((2 * s + k) % 4) switch
                {
                    0 => b.Color == a.Color,
                    1 => b.Shape == a.Shape,
                    2 => b.Size == ShapeSize.Large && a.Size == ShapeSize.Small,
                    _ => CentreX(b) < CentreX(a),
                };
                yes += truth ? 1 : 0;
                total++;
            }
        }
        Assert.Equal(Math.Round((double)yes / total, 6), chat["relation_yes_share"]!.GetValue<double>(), 6);
    }

    static double CentreX(ShapesObject o)
    {
        var xs = Enumerable.Range(0, o.VisibleMask.Length).Where(i => o.VisibleMask[i] != 0).Select(i => i % 64).ToList();
        return (xs.Min() + xs.Max() + 1) / 2.0;
    }
}
