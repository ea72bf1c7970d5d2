using RegionChat.TestSupport;
using RegionChat.Data.Shapes;
using PbV1 = RegionChat.Protos.V1;

namespace RegionChat.Server.Tests.Services;

/// <summary>The committed default model, served by the real server: streamed answers about masked objects of unseen
/// shapes scenes are right (the scene generator is the ground truth).</summary>
public class ShapesTinyChatTests
{
    static byte[] Png(Action<string> save)
    {
        using var temp = new TempDir();
        string path = temp.File("x.png");
        save(path);
        return File.ReadAllBytes(path);
    }

    [Fact]
    public async Task AStreamedChatDescribesTheMaskedObjectAndFollowUpsReuseTheSession()
    {
        await using var host = await ServerHost.StartAsync(new Dictionary<string, string?>
        {
            ["RegionChat:ModelsPath"] = Path.Combine(SharedFiles.RepoRoot, "models"),
            ["RegionChat:DefaultModel"] = "shapes-tiny",
        });
        var scene = ShapesGenerator.Generate(1_000_000_777);   // an unseen test scene with four objects
        byte[] image = Png(p => scene.SavePng(p));
        foreach (var target in scene.Objects)
        {
            var region = new PbV1.Region { MaskPng = Google.Protobuf.ByteString.CopyFrom(Png(p => ShapesPng.SaveMaskPng(target.VisibleMask, p))) };
            var first = await host.Client.ChatAsync(Calls.Chat(ShapesText.DescribeRegion, image, region, maxTokens: 16));
            Assert.True(first.Events.Count >= 3, "the answer did not arrive as a stream of events");
            Assert.Equal(target.Caption, first.Text);   // exactly: no separator space before the answer

            // A follow-up in the same session prefills only its new text. (Its answer is not checked here: `eval shapes`
            // measures the model's answers in sessions.)
            var follow = await host.Client.ChatAsync(Calls.Chat("what color is it?", sessionId: first.Started.SessionId, maxTokens: 8));
            Assert.True(follow.Started.CachedTokens >= first.Started.PromptTokens, "the follow-up did not reuse the first turn's KV cache");
            Assert.InRange((long)follow.Started.PromptTokens - follow.Started.CachedTokens, 1L, 24L);
        }
    }

    [Fact]
    public async Task AnAnswerStartIsContinued()
    {
        await using var host = await ServerHost.StartAsync(new Dictionary<string, string?>
        {
            ["RegionChat:ModelsPath"] = Path.Combine(SharedFiles.RepoRoot, "models"),
            ["RegionChat:DefaultModel"] = "shapes-tiny",
        });
        var scene = ShapesGenerator.Generate(1_000_000_779);
        byte[] image = Png(p => scene.SavePng(p));
        var box = scene.Objects[0].Box;
        var whole = (await host.Client.ChatAsync(Calls.Chat(ShapesText.DescribeRegion, image, Calls.Box(box.X0, box.Y0, box.X1, box.Y1), maxTokens: 16))).Text;
        var words = whole.Split(' ');
        Assert.True(words.Length >= 3, $"'{whole}': too short to split");
        string start = string.Join(' ', words[..2]);

        var request = Calls.Chat(ShapesText.DescribeRegion, image, Calls.Box(box.X0, box.Y0, box.X1, box.Y1), maxTokens: 16);
        request.AnswerStart = start;
        var continued = await host.Client.ChatAsync(request);
        Assert.Equal(whole[start.Length..], continued.Text); // " yellow triangle" after "a small"

        // A follow-up in that session goes on from the whole answer.
        var follow = await host.Client.ChatAsync(Calls.Chat(ShapesText.WhatColor, sessionId: continued.Started.SessionId, maxTokens: 8));
        Assert.True(follow.Started.CachedTokens >= continued.Started.PromptTokens, "the follow-up did not reuse the continued turn's cache");

        request.AnswerStart = new string('x', 40_000);
        var tooLong = await Calls.FailsAsync(() => host.Client.ChatAsync(request));
        Assert.Equal(Grpc.Core.StatusCode.InvalidArgument, tooLong.StatusCode);
        Assert.Contains("answer_start", tooLong.Status.Detail);
    }
}
