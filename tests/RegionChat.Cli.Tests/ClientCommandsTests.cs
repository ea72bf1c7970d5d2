using System.Text.Json;
using System.Text.RegularExpressions;
using Grpc.Core;
using Grpc.Net.Client;
using PbV1 = RegionChat.Protos.V1;

namespace RegionChat.Cli.Tests;

/// <summary>`chat`, `models` and `caption` against a real in-process server and the in-process engine on a tiny model.</summary>
public sealed partial class ClientCommandsTests(TinyServerFixture fx, Xunit.Abstractions.ITestOutputHelper log) : IClassFixture<TinyServerFixture>
{
    [GeneratedRegex(@"session (s-[0-9a-f]+) · .*prompt (\d+) tokens \(cached (\d+), visual (\d+)\)")]
    private static partial Regex SummaryLine();

    string[] RegionArgs(string form) => form switch
    {
        "box" => ["--box", fx.Box],
        "mask" => ["--mask", fx.MaskPath],
        "polygon" => ["--polygon", "6,6,40,10,30,44"],
        "scribble" => ["--scribble", "5,5,30,30,50,12;6"],
        "rle" => ["--rle", fx.RlePath],
        "region" => ["--region", $$"""[{"box": [{{fx.Box}}]}, {"polygon": [[40,40],[60,40],[50,60]]}]"""],
        _ => [],
    };

    [Theory]
    [InlineData("box")]
    [InlineData("mask")]
    [InlineData("polygon")]
    [InlineData("scribble")]
    [InlineData("rle")]
    [InlineData("region")]
    [InlineData("none")]
    public async Task ChatOverGrpcAnswersExactlyAsCaptionInProcess(string form)
    {
        string question = "what shape is this?";
        var chat = await CliRunner.RunAsync(["chat", "--server", fx.Url, "--image", fx.ImagePath, .. RegionArgs(form), "--max-tokens", "10", question]);
        Assert.True(chat.Exit == 0, chat.Err);
        var caption = await CliRunner.RunAsync(["caption", "--model", fx.ModelDir, "--image", fx.ImagePath, .. RegionArgs(form), "--max-tokens", "10", "--threads", "1", "--question", question]);
        Assert.True(caption.Exit == 0, caption.Err);
        log.WriteLine($"chat stdout: {chat.Out}chat stderr: {chat.Err}caption stderr: {caption.Err}");

        Assert.False(string.IsNullOrWhiteSpace(chat.Out), "the tiny model produced no text");
        Assert.Equal(caption.Out, chat.Out);
        // stdout is the answer and nothing else: the session, usage and timings went to stderr.
        Assert.Matches(SummaryLine(), chat.Err);
        Assert.DoesNotContain("session", chat.Out);
        Assert.DoesNotContain("tok/s", caption.Out);
        Assert.Contains("tok/s", caption.Err);
    }

    [Fact]
    public async Task ChatAnswersKeepTheFormatAsked()
    {
        string[] common = ["chat", "--server", fx.Url, "--image", fx.ImagePath, "--box", fx.Box, "--max-tokens", "40"];
        var free = await CliRunner.RunAsync([.. common, "describe this region"]);
        string[] choices = ["yes", "no"];
        Assert.DoesNotContain(free.Out.Trim(), choices);                  // the tiny model's own answer is neither
        var chosen = await CliRunner.RunAsync([.. common, "--choice", choices[0], "--choice", choices[1], "describe this region"]);
        Assert.True(chosen.Exit == 0, chosen.Err);
        Assert.Contains(chosen.Out.Trim(), choices);
        var json = await CliRunner.RunAsync([.. common, "--json", "describe this region"]);
        Assert.True(json.Exit == 0 && json.Out.StartsWith('{'), json.Out + json.Err);

        var bad = await CliRunner.RunAsync([.. common, "--choice", "", "describe this region"]);
        Assert.NotEqual(0, bad.Exit);
        Assert.Contains("sampling.format.choices[0]", bad.Err);
        var both = await CliRunner.RunAsync([.. common, "--json", "--choice", "a", "describe this region"]);
        Assert.Equal(2, both.Exit);
        Assert.Contains("give one of --json, --json-schema, --choice and --regex", both.Err);
        var matched = await CliRunner.RunAsync([.. common, "--regex", "(yes|no)[.!]", "describe this region"]);
        Assert.True(matched.Exit == 0, matched.Err);
        Assert.Matches("^(yes|no)[.!]$", matched.Out.Trim());
        var badRegex = await CliRunner.RunAsync([.. common, "--regex", "(yes", "describe this region"]);
        Assert.NotEqual(0, badRegex.Exit);
        Assert.Contains("sampling.format.regex", badRegex.Err);
    }

    [Fact]
    public async Task ChatStdoutIsExactlyTheStreamedAnswer()
    {
        var chat = await CliRunner.RunAsync("chat", "--server", fx.Url, "--image", fx.ImagePath, "--box", fx.Box, "--max-tokens", "12", "describe this region");
        Assert.True(chat.Exit == 0, chat.Err);

        // The same request straight through the gRPC client: its deltas, concatenated, are all stdout holds.
        using var channel = GrpcChannel.ForAddress(fx.Url);
        var client = new PbV1.RegionChat.RegionChatClient(channel);
        var b = fx.Box.Split(',').Select(float.Parse).ToArray();
        var request = new PbV1.ChatRequest
        {
            Message = new PbV1.UserMessage
            {
                Text = "describe this region",
                Image = new PbV1.ImageInput { Data = Google.Protobuf.ByteString.CopyFrom(File.ReadAllBytes(fx.ImagePath)) },
                Region = new PbV1.Region { Box = new PbV1.Box { X0 = b[0], Y0 = b[1], X1 = b[2], Y1 = b[3] } },
            },
            MaxTokens = 12,
        };
        var text = new System.Text.StringBuilder();
        using (var call = client.Chat(request))
            await foreach (var e in call.ResponseStream.ReadAllAsync())
                if (e.EventCase == PbV1.ChatEvent.EventOneofCase.Delta) text.Append(e.Delta.Text);
        Assert.Equal(text + "\n", chat.Out);
    }

    [Fact]
    public async Task ABadRequestExitsNonZeroWithTheStatusAndMessage()
    {
        // A box wholly outside the 64×64 image: the server answers INVALID_ARGUMENT naming the field.
        var outside = await CliRunner.RunAsync("chat", "--server", fx.Url, "--image", fx.ImagePath, "--box", "500,500,600,600", "what is it?");
        Assert.Equal(1, outside.Exit);
        Assert.Equal("", outside.Out);
        Assert.StartsWith("error: InvalidArgument: message.region.box: ", outside.Err);
        Assert.Contains("outside", outside.Err);

        var unknownSession = await CliRunner.RunAsync("chat", "--server", fx.Url, "--session", "s-0123456789", "hello");
        Assert.Equal(1, unknownSession.Exit);
        Assert.StartsWith("error: NotFound: ", unknownSession.Err);
        Assert.Contains("s-0123456789", unknownSession.Err);

        var badSampling = await CliRunner.RunAsync("chat", "--server", fx.Url, "--temperature", "-1", "hello");
        Assert.Equal(1, badSampling.Exit);
        Assert.StartsWith("error: InvalidArgument: sampling.temperature: ", badSampling.Err);

        var noServer = await CliRunner.RunAsync("models", "--server", "http://127.0.0.1:1");
        Assert.Equal(1, noServer.Exit);
        Assert.StartsWith("error: Unavailable: ", noServer.Err);
        // The address and the likely cause, not grpc-dotnet's "Error connecting to subchannel.".
        Assert.Contains("http://127.0.0.1:1", noServer.Err);
        Assert.Contains("connection refused", noServer.Err);
        Assert.DoesNotContain("subchannel", noServer.Err);
    }

    [Fact]
    public async Task CaptionTakesTheQuestionAsItsLastArgumentLikeChat()
    {
        string[] common = ["caption", "--model", fx.ModelDir, "--image", fx.ImagePath, "--box", fx.Box, "--max-tokens", "6", "--threads", "1"];
        var positional = await CliRunner.RunAsync([.. common, "what color is it?"]);
        Assert.True(positional.Exit == 0, positional.Err);
        var option = await CliRunner.RunAsync([.. common, "--question", "what color is it?"]);
        Assert.True(option.Exit == 0, option.Err);
        Assert.Equal(option.Out, positional.Out);

        var both = await CliRunner.RunAsync([.. common, "--question", "what color is it?", "what shape is it?"]);
        Assert.Equal(2, both.Exit);
        Assert.Contains("give the question once", both.Err);
    }

    [Fact]
    public async Task CaptionKeepsTheVisualTokensItsBudgetNames()
    {
        string[] common = ["caption", "--model", fx.ModelDir, "--image", fx.ImagePath, "--box", fx.Box, "--max-tokens", "2", "--threads", "1"];
        var all = await CliRunner.RunAsync(common);
        Assert.True(all.Exit == 0, all.Err);
        var visual = VisualTokensLine().Match(all.Err);
        Assert.True(visual.Success, all.Err);
        Assert.True(int.Parse(visual.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) > 3, all.Err);

        var three = await CliRunner.RunAsync([.. common, "--visual-token-budget", "3"]);
        Assert.True(three.Exit == 0, three.Err);
        Assert.Equal("3", VisualTokensLine().Match(three.Err).Groups[1].Value);

        var negative = await CliRunner.RunAsync([.. common, "--visual-token-budget", "-1"]);
        Assert.NotEqual(0, negative.Exit);
        Assert.Contains("visual_token_budget", negative.Err);
    }

    [System.Text.RegularExpressions.GeneratedRegex(@"\(visual (\d+)\)")]
    private static partial System.Text.RegularExpressions.Regex VisualTokensLine();

    [Fact]
    public async Task BadArgumentsAreRefusedBeforeAnyCall()
    {
        var twoRegions = await CliRunner.RunAsync("chat", "--server", fx.Url, "--image", fx.ImagePath, "--box", "1,1,9,9", "--polygon", "1,1,9,1,5,9", "q");
        Assert.Equal(2, twoRegions.Exit);
        Assert.Contains("at most one region option", twoRegions.Err);

        var shortBox = await CliRunner.RunAsync("chat", "--server", fx.Url, "--image", fx.ImagePath, "--box", "1,2,3", "q");
        Assert.Equal(2, shortBox.Exit);
        Assert.Contains("--box needs 4 numbers", shortBox.Err);

        var notNumbers = await CliRunner.RunAsync("caption", "--model", fx.ModelDir, "--image", fx.ImagePath, "--polygon", "1,2,x,4,5,6");
        Assert.Equal(2, notNumbers.Exit);
        Assert.Contains("\"x\" is not a number", notNumbers.Err);

        var noWidth = await CliRunner.RunAsync("chat", "--server", fx.Url, "--image", fx.ImagePath, "--scribble", "1,2,3,4", "q");
        Assert.Equal(2, noWidth.Exit);
        Assert.Contains(";width", noWidth.Err);

        var missingImage = await CliRunner.RunAsync("chat", "--server", fx.Url, "--image", fx.ImagePath + ".absent", "q");
        Assert.Equal(2, missingImage.Exit);
        Assert.Contains("not found", missingImage.Err);

        var missingModel = await CliRunner.RunAsync("caption", "--model", fx.ModelDir + "-absent", "--image", fx.ImagePath);
        Assert.Equal(1, missingModel.Exit);
        Assert.Contains("model.json", missingModel.Err);
    }

    [Fact]
    public async Task InteractiveChatContinuesTheSessionAcrossLines()
    {
        var stdin = new StringReader(string.Join('\n',
            "describe this region",
            "what color is it?",
            $"/image {fx.OtherImagePath}",
            "/box 0,0,32,32",
            "and this one?",
            "/bogus",
            "/quit",
            "never sent"));
        var run = await CliRunner.RunAsync(stdin, "chat", "--server", fx.Url, "--image", fx.ImagePath, "--box", fx.Box, "--max-tokens", "6");
        Assert.True(run.Exit == 0, run.Err);

        var turns = SummaryLine().Matches(run.Err).Select(m => (Session: m.Groups[1].Value, Prompt: int.Parse(m.Groups[2].Value),
            Cached: int.Parse(m.Groups[3].Value), Visual: int.Parse(m.Groups[4].Value))).ToList();
        Assert.Equal(3, turns.Count);
        Assert.All(turns, t => Assert.Equal(turns[0].Session, t.Session));
        Assert.Equal(0, turns[0].Cached);
        Assert.True(turns[0].Visual > 0);
        // The second turn stands on the first: its whole prompt is cached but its own question.
        Assert.True(turns[1].Cached >= turns[0].Prompt, $"second turn cached {turns[1].Cached} < first prompt {turns[0].Prompt}");
        Assert.Equal(0, turns[1].Visual);
        // The third turn brings a new image and region into the same conversation.
        Assert.True(turns[2].Cached > turns[1].Cached);
        Assert.Equal(turns[0].Visual, turns[2].Visual);
        Assert.Contains("unknown command /bogus", run.Err);
        // One answer line per turn on stdout, nothing else.
        Assert.Equal(3, run.Out.TrimEnd('\n').Split('\n').Length);
    }

    [Fact]
    public async Task InteractiveChatCommandErrorsSpeakTheChatCommandLanguage()
    {
        var stdin = new StringReader("/box 1,2\n/scribble 1,2,3,4\n/polygon 1,x,3\n/quit\n");
        var run = await CliRunner.RunAsync(stdin, "chat", "--server", fx.Url, "--image", fx.ImagePath, "--max-tokens", "4");
        Assert.True(run.Exit == 0, run.Err);
        Assert.Contains("error: /box needs 4 numbers x0,y0,x1,y1, got 2", run.Err);
        Assert.Contains("error: /scribble needs", run.Err);
        Assert.Contains("error: /polygon: \"x\" is not a number", run.Err);
        Assert.DoesNotContain("--", run.Err);
    }

    [Fact]
    public async Task InteractiveChatReportsAFailedTurnAndGoesOn()
    {
        var stdin = new StringReader("/box 500,500,600,600\nwhat is it?\n/whole\nwhat is it now?\n");
        var run = await CliRunner.RunAsync(stdin, "chat", "--server", fx.Url, "--image", fx.ImagePath, "--max-tokens", "4");
        Assert.Equal(1, run.Exit);
        Assert.Contains("error: InvalidArgument: message.region.box: ", run.Err);
        Assert.Single(SummaryLine().Matches(run.Err));
    }

    [Fact]
    public async Task ModelsListsTheServedModelAndMarksTheDefault()
    {
        var text = await CliRunner.RunAsync("models", "--server", fx.Url);
        Assert.True(text.Exit == 0, text.Err);
        Assert.Contains("tiny (default)", text.Out);
        int tokens = (TestSupport.TinyModel.Resolution / TestSupport.TinyModel.Patch) * (TestSupport.TinyModel.Resolution / TestSupport.TinyModel.Patch);
        Assert.Contains($"{tokens} visual tokens", text.Out);
        Assert.Contains($"{TestSupport.TinyModel.Resolution} px, patch {TestSupport.TinyModel.Patch}, width {TestSupport.TinyModel.VisionWidth}", text.Out);
        Assert.Contains($"width {TestSupport.TinyModel.Embd}, 2 layers", text.Out);
        Assert.Contains("template llava_v1", text.Out);

        var json = await CliRunner.RunAsync("models", "--server", fx.Url, "--json");
        Assert.True(json.Exit == 0, json.Err);
        using var doc = JsonDocument.Parse(json.Out);
        Assert.Equal("tiny", doc.RootElement.GetProperty("defaultModel").GetString());
        var model = doc.RootElement.GetProperty("models")[0];
        Assert.Equal("tiny", model.GetProperty("id").GetString());
        Assert.Equal(TestSupport.TinyModel.Embd, model.GetProperty("llm").GetProperty("embeddingLength").GetInt32());
        Assert.Equal(4096, model.GetProperty("contextSize").GetInt32());
    }
}
