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
        caption.Sampling = Choice(scene.Objects.Select(o => o.Caption).Distinct());
        caption.Region = Mask(scene.Objects[1]);
        Assert.Equal(scene.Objects[1].Caption, (await host.Client.CaptionAsync(caption)).Text);
    }
}
