using System.Text.Json;
using Google.Rpc;
using Grpc.Core;
using RegionChat.Data.Shapes;
using RegionChat.TestSupport;
using PbV1 = RegionChat.Protos.V1;

namespace RegionChat.Server.Tests.Services;

/// <summary>
/// Constrained answers over gRPC on the committed shapes-tiny: given the scene's captions as choices, each masked object
/// is answered with its own caption (the model's free answer, which a choice keeps); without its own caption among the
/// choices, with one of the others; as a JSON object, with JSON.
/// </summary>
public class AnswerFormatTests
{
    static Task<ServerHost> ShapesTinyAsync() => ServerHost.StartAsync(new Dictionary<string, string?>
    {
        ["RegionChat:ModelsPath"] = Path.Combine(SharedFiles.RepoRoot, "models"),
        ["RegionChat:DefaultModel"] = "shapes-tiny",
    });

    static PbV1.SamplingParams Choice(IEnumerable<string> choices) =>
        new() { Format = new PbV1.AnswerFormat { Choice = new PbV1.ChoiceFormat { Choices = { choices } } } };

    static PbV1.SamplingParams Regex(string pattern) =>
        new() { Format = new PbV1.AnswerFormat { Regex = new PbV1.RegexFormat { Pattern = pattern } } };

    static PbV1.Region Mask(ShapesObject o) =>
        new() { MaskPng = Google.Protobuf.ByteString.CopyFrom(TestImages.SavedPng(p => ShapesPng.SaveMaskPng(o.VisibleMask, p)).ToByteArray()) };

    [Fact]
    public async Task AChoiceOfTheScenesCaptionsAnswersEachObjectWithItsOwn()
    {
        await using var host = await ShapesTinyAsync();
        var scene = ShapesGenerator.Generate(1_000_000_777);
        byte[] image = TestImages.SavedPng(p => scene.SavePng(p)).ToByteArray();
        string[] captions = scene.Objects.Select(o => o.Caption).Distinct().ToArray();
        Assert.True(captions.Length >= 2, "the scene needs two different captions");
        foreach (var target in scene.Objects)
        {
            var request = Calls.Chat(ShapesText.DescribeRegion, image, Mask(target), maxTokens: 16);
            request.Sampling = Choice(captions);
            var own = await host.Client.ChatAsync(request);
            Assert.Equal(target.Caption, own.Text);
            Assert.Equal(PbV1.FinishReason.Stop, own.Finished.Reason);

            string[] others = captions.Where(c => c != target.Caption).ToArray();
            request.Sampling = Choice(others);
            var other = await host.Client.ChatAsync(request);
            Assert.Contains(other.Text, others);
            Assert.Equal(PbV1.FinishReason.Stop, other.Finished.Reason);
        }
    }

    [Fact]
    public async Task ARegexKeepsTheModelsOwnCaptionWhereItFitsAndBendsItWhereNot()
    {
        await using var host = await ShapesTinyAsync();
        var scene = ShapesGenerator.Generate(1_000_000_777);
        byte[] image = TestImages.SavedPng(p => scene.SavePng(p)).ToByteArray();
        foreach (var target in scene.Objects)
        {
            var request = Calls.Chat(ShapesText.DescribeRegion, image, Mask(target), maxTokens: 16);
            request.Sampling = Regex("(a )?(small|large) [a-z]+ [a-z]+");
            Assert.Equal(target.Caption, (await host.Client.ChatAsync(request)).Text);
            request.Sampling = Regex("(small|large) (thing|object)s?");
            var bent = await host.Client.ChatAsync(request);
            Assert.Matches("^(small|large) (thing|object)s?$", bent.Text);
            Assert.Equal(PbV1.FinishReason.Stop, bent.Finished.Reason);
        }
    }

    [Fact]
    public async Task AJsonObjectAnswerIsJsonAndItsSessionGoesOn()
    {
        await using var host = await ShapesTinyAsync();
        var scene = ShapesGenerator.Generate(1_000_000_782);
        byte[] image = TestImages.SavedPng(p => scene.SavePng(p)).ToByteArray();
        var request = Calls.Chat(ShapesText.DescribeRegion, image, Mask(scene.Objects[0]), maxTokens: 48);
        var free = await host.Client.ChatAsync(request);
        Assert.False(JsonPrefix.IsObjectSoFar(free.Text), free.Text);                     // the model does not write JSON by itself

        request.Sampling = new PbV1.SamplingParams { Format = new PbV1.AnswerFormat { JsonObject = new PbV1.JsonObjectFormat() } };
        var json = await host.Client.ChatAsync(request);
        Assert.StartsWith("{", json.Text);
        Assert.True(JsonPrefix.IsObjectSoFar(json.Text), json.Text);
        if (json.Finished.Reason == PbV1.FinishReason.Stop)
        {
            using var parsed = JsonDocument.Parse(json.Text);
            Assert.Equal(JsonValueKind.Object, parsed.RootElement.ValueKind);
        }
        else Assert.Equal(PbV1.FinishReason.Length, json.Finished.Reason);

        var follow = await host.Client.ChatAsync(Calls.Chat(ShapesText.WhatColor, sessionId: json.Started.SessionId, maxTokens: 8));
        Assert.True(follow.Started.CachedTokens >= json.Started.PromptTokens, "the JSON turn was not kept in its session");
    }

    /// <summary>The shapes world's attributes as a schema: an object of three enums.</summary>
    internal static string AttributeSchema() => JsonSerializer.Serialize(new
    {
        type = "object",
        properties = new
        {
            size = new { @enum = Enum.GetValues<ShapeSize>().Select(v => v.Word()) },
            color = new { @enum = Enum.GetValues<ShapeColor>().Select(v => v.Word()) },
            shape = new { @enum = Enum.GetValues<ShapeKind>().Select(v => v.Word()) },
        },
        required = new[] { "size", "color", "shape" },
    });

    /// <summary>An answer to <see cref="AttributeSchema"/>: its three words, in order, each one of its enum's.</summary>
    internal static string[] Attributes(string json)
    {
        using var doc = JsonDocument.Parse(json);
        var fields = doc.RootElement.EnumerateObject().Select(p => (p.Name, Value: p.Value.GetString()!)).ToArray();
        Assert.Equal(["size", "color", "shape"], fields.Select(f => f.Name));
        Assert.Contains(fields[0].Value, Enum.GetValues<ShapeSize>().Select(v => v.Word()));
        Assert.Contains(fields[1].Value, Enum.GetValues<ShapeColor>().Select(v => v.Word()));
        Assert.Contains(fields[2].Value, Enum.GetValues<ShapeKind>().Select(v => v.Word()));
        return fields.Select(f => f.Value).ToArray();
    }

    /// <summary>shapes-tiny never saw JSON, so its words there are not its captions' (it answers the same for each object):
    /// what holds is the shape, every field in order with one of its enum's values.</summary>
    [Fact]
    public async Task AJsonSchemaAnswerFillsItsFields()
    {
        await using var host = await ShapesTinyAsync();
        var scene = ShapesGenerator.Generate(1_000_000_777);
        byte[] image = TestImages.SavedPng(p => scene.SavePng(p)).ToByteArray();
        foreach (var target in scene.Objects)
        {
            var request = Calls.Chat(ShapesText.DescribeRegion, image, Mask(target), maxTokens: 200);
            request.Sampling = new PbV1.SamplingParams
            {
                Format = new PbV1.AnswerFormat { JsonSchema = new PbV1.JsonSchemaFormat { Schema = AttributeSchema() } },
            };
            var answer = await host.Client.ChatAsync(request);
            Assert.Equal(PbV1.FinishReason.Stop, answer.Finished.Reason);
            Assert.Equal(3, Attributes(answer.Text).Length);
        }
    }

    [Fact]
    public async Task BadChoicesAreRefusedNamingThem()
    {
        await using var host = await ShapesTinyAsync();
        var scene = ShapesGenerator.Generate(1_000_000_777);
        byte[] image = TestImages.SavedPng(p => scene.SavePng(p)).ToByteArray();

        async Task<string> Refused(Func<Task> call)
        {
            var e = await Calls.FailsAsync(call);
            Assert.Equal(StatusCode.InvalidArgument, e.StatusCode);
            return Assert.Single(e.GetRpcStatus()!.GetDetail<BadRequest>()!.FieldViolations).Field;
        }

        var chat = Calls.Chat(ShapesText.DescribeRegion, image, maxTokens: 8);
        chat.Sampling = Choice(["a", ""]);
        Assert.Equal("sampling.format.choices[1]", await Refused(() => host.Client.ChatAsync(chat)));
        chat.Sampling = Choice(Enumerable.Range(0, 257).Select(i => $"c{i}"));
        Assert.Equal("sampling.format.choices", await Refused(() => host.Client.ChatAsync(chat)));

        var caption = new PbV1.CaptionRequest
        {
            Image = new PbV1.ImageInput { Data = Google.Protobuf.ByteString.CopyFrom(image) }, Sampling = Choice([new string('x', 257)]),
        };
        Assert.Equal("sampling.format.choices[0]", await Refused(() => host.Client.CaptionAsync(caption).ResponseAsync));
        caption.Sampling = new PbV1.SamplingParams
        {
            Format = new PbV1.AnswerFormat { JsonSchema = new PbV1.JsonSchemaFormat { Schema = """{"type": "string", "format": "date"}""" } },
        };
        Assert.Equal("sampling.format.json_schema", await Refused(() => host.Client.CaptionAsync(caption).ResponseAsync));
        caption.Sampling = Regex("(a)\\1");
        Assert.Equal("sampling.format.regex", await Refused(() => host.Client.CaptionAsync(caption).ResponseAsync));
        caption.Sampling = Choice(scene.Objects.Select(o => o.Caption).Distinct());
        caption.Region = Mask(scene.Objects[1]);
        Assert.Equal(scene.Objects[1].Caption, (await host.Client.CaptionAsync(caption)).Text);
    }
}
