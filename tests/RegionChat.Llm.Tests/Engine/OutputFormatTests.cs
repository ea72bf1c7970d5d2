using System.Text;
using System.Text.Json;
using RegionChat.Llm.Engine;
using RegionChat.TestSupport;

namespace RegionChat.Llm.Tests.Engine;

public class OutputFormatTests(TinyModels models) : IClassFixture<TinyModels>
{
    [Fact]
    public async Task AChoiceKeepsTheModelsOwnAnswerWhereItIsOneAndForcesOneWhereItIsNot()
    {
        using var dir = new TempDir();
        using var engine = ScriptedModel.Load(dir, ScriptedModel.CatSitsOnTheRedChair());
        using var session = engine.CreateSession(keepHistory: false);
        var prompt = new[] { PromptSegment.Text("a cat") };
        async Task<Collected> Answer(params string[] choices) => await Collected.From(engine.GenerateAsync(session, prompt,
            SamplingParams.Greedy(16) with { OutputFormat = OutputFormat.Choice(choices) }));

        var own = await Answer("sleeps", "sits on the red chair");
        Assert.Equal(" sits on the red chair", own.Text);                  // the script, one leading separator
        Assert.Equal(FinishReason.Stop, own.Final.Reason);

        var cut = await Answer("sits on the red");                         // complete there: only the end may follow
        Assert.Equal(" sits on the red", cut.Text);
        Assert.Equal(FinishReason.Stop, cut.Final.Reason);

        var longer = await Answer("sits on the red chair and the mat");    // the script ends early: not allowed
        Assert.Equal(" sits on the red chair and the mat", longer.Text);

        string[] others = ["sleeps", "runs away", "is a dog"];
        var forced = await Answer(others);
        Assert.Contains(forced.Text.TrimStart(' '), others);
        Assert.Equal(FinishReason.Stop, forced.Final.Reason);
    }

    [Fact]
    public async Task AJsonObjectAnswerIsAlwaysValidJsonSoFarAndParsesWhenItEnds()
    {
        using var engine = models.Load();
        int ended = 0;
        for (int seed = 0; seed < 24; seed++)
        {
            using var session = engine.CreateSession(keepHistory: false);
            var sampling = new SamplingParams
            {
                Temperature = 1, TopK = 8, TopP = 1, MinP = 0, Seed = seed, MaxTokens = 48, OutputFormat = OutputFormat.JsonObject,
            };
            var run = await Collected.From(engine.GenerateAsync(session, [PromptSegment.Text("the red chair")], sampling));
            byte[] text = Encoding.UTF8.GetBytes(run.Text);
            Assert.True(run.Final.Usage.CompletionTokens > 0);
            Assert.True(JsonPrefix.IsObjectSoFar(text), run.Text);
            if (run.Final.Reason == FinishReason.Stop)
            {
                using var parsed = JsonDocument.Parse(text);
                Assert.Equal(JsonValueKind.Object, parsed.RootElement.ValueKind);
                ended++;
            }
            else Assert.Equal(FinishReason.Length, run.Final.Reason);
        }
        Assert.True(ended > 0, "no answer closed its object in 48 tokens");
    }

    [Fact]
    public async Task AJsonSchemaAnswerFollowsItsSchema()
    {
        using var engine = models.Load();
        var format = OutputFormat.JsonSchema("""
            {"type": "object", "properties": {"colour": {"enum": ["red", "dark blue"]}, "ok": {"type": "boolean"},
             "tags": {"type": "array", "items": {"enum": [1, 2]}, "maxItems": 2},
             "size": {"anyOf": [{"type": "null"}, {"type": "array", "items": {"const": 3}, "maxItems": 1}]}},
             "required": ["colour", "ok", "tags", "size"]}
            """);
        for (int seed = 0; seed < 8; seed++)
        {
            using var session = engine.CreateSession(keepHistory: false);
            var sampling = new SamplingParams { Temperature = 1, TopK = 0, TopP = 1, MinP = 0, Seed = seed, MaxTokens = 400, OutputFormat = format };
            var run = await Collected.From(engine.GenerateAsync(session, [PromptSegment.Text("the red chair")], sampling));
            Assert.True(run.Final.Reason == FinishReason.Stop, $"{run.Final.Reason}: {run.Text}");
            using var parsed = JsonDocument.Parse(run.Text);
            var fields = parsed.RootElement.EnumerateObject().ToArray();
            Assert.Equal(["colour", "ok", "tags", "size"], fields.Select(f => f.Name));
            Assert.Contains(fields[0].Value.GetString(), new[] { "red", "dark blue" });
            Assert.Contains(fields[1].Value.ValueKind, new[] { JsonValueKind.True, JsonValueKind.False });
            Assert.All(fields[2].Value.EnumerateArray(), t => Assert.Contains(t.GetInt32(), new[] { 1, 2 }));
            Assert.True(fields[3].Value.ValueKind == JsonValueKind.Null || fields[3].Value.GetRawText().Replace(" ", "") is "[]" or "[3]",
                fields[3].Value.GetRawText());
        }
    }

    [Fact]
    public async Task ARegexAnswerMatchesItWhole()
    {
        // At most 18 bytes, so every sampled answer reaches a point where only the end may follow.
        const string pattern = "(yes|no), [0-9]{1,3} (red|dark blue)s?";
        var format = OutputFormat.Regex(pattern);
        using var engine = models.Load();
        var answers = new HashSet<string>();
        for (int seed = 0; seed < 8; seed++)
        {
            using var session = engine.CreateSession(keepHistory: false);
            var sampling = new SamplingParams { Temperature = 1, TopK = 0, TopP = 1, MinP = 0, Seed = seed, MaxTokens = 64, OutputFormat = format };
            var run = await Collected.From(engine.GenerateAsync(session, [PromptSegment.Text("the red chair")], sampling));
            Assert.Equal(FinishReason.Stop, run.Final.Reason);
            Assert.Matches("^ ?(?:" + pattern + ")$", run.Text);
            answers.Add(run.Text);
        }
        Assert.True(answers.Count > 1, "every seed wrote the same answer");
    }

    [Fact]
    public async Task WithoutAFormatTheSameSamplingWritesNoJson()
    {
        // The JSON test above would pass for a model that writes JSON anyway: this one does not.
        using var engine = models.Load();
        using var session = engine.CreateSession(keepHistory: false);
        var run = await Collected.From(engine.GenerateAsync(session, [PromptSegment.Text("the red chair")],
            new SamplingParams { Temperature = 1, TopK = 8, TopP = 1, MinP = 0, Seed = 1, MaxTokens = 48 }));
        Assert.False(JsonPrefix.IsObjectSoFar(run.Text), run.Text);
    }
}
