using System.Text.Json.Nodes;
using RegionChat.Data.Shapes;
using RegionChat.TestSupport;

namespace RegionChat.Server.Tests.OpenAi;

/// <summary>
/// llama.cpp's and vLLM's "prefill": a last assistant message is the start of the answer, and the model continues it.
/// On the committed shapes-tiny, whose captions are words, the continuation of the first words of its own greedy
/// answer is the rest of that answer; the reply carries the continuation only, its leading space kept.
/// </summary>
public class OpenAiPrefillTests
{
    static Task<ServerHost> ShapesTinyAsync() => ServerHost.StartAsync(new Dictionary<string, string?>
    {
        ["RegionChat:ModelsPath"] = Path.Combine(SharedFiles.RepoRoot, "models"),
        ["RegionChat:DefaultModel"] = "shapes-tiny",
    });

    static JsonObject Body(JsonNode user, string? answerStart = null, bool stream = false)
    {
        var body = OpenAiHttp.Body(16, user);
        body["model"] = "shapes-tiny";
        body["stream"] = stream;
        if (answerStart != null) body["messages"]!.AsArray().Add(OpenAiHttp.Message("assistant", answerStart));
        return body;
    }

    static string Content(JsonObject completion) => (string)completion["choices"]![0]!["message"]!["content"]!;

    [Fact]
    public async Task TheAnswerContinuesTheGivenStart()
    {
        await using var host = await ShapesTinyAsync();
        using var http = OpenAiHttp.Http(host);
        var scene = ShapesGenerator.Generate(1_000_000_778);
        byte[] image = TestImages.SavedPng(p => scene.SavePng(p)).ToByteArray();
        var box = scene.Objects[0].Box;
        var user = OpenAiHttp.UserWithImage(ShapesText.DescribeRegion, image, new JsonObject { ["box"] = new JsonArray(box.X0, box.Y0, box.X1, box.Y1) });

        string whole = Content(await OpenAiHttp.CompleteAsync(http, Body(user)));
        var words = whole.Split(' ');
        Assert.True(words.Length >= 3, $"'{whole}': too short to split");
        string start = string.Join(' ', words[..2]);

        var continued = await OpenAiHttp.CompleteAsync(http, Body(user.DeepClone(), start));
        Assert.Equal(whole[start.Length..], Content(continued)); // " yellow triangle" after "a small"
        Assert.Equal("stop", (string)continued["choices"]![0]!["finish_reason"]!);

        var streamed = await OpenAiHttp.StreamAsync(http, Body(user.DeepClone(), start, stream: true));
        Assert.Equal(whole[start.Length..], streamed.Text);

        // Another start is continued as given, not replaced by the model's own answer.
        string other = words[0] == "a" ? "the" : "a";
        string otherContinued = Content(await OpenAiHttp.CompleteAsync(http, Body(user.DeepClone(), other)));
        Assert.NotEqual(whole, other + otherContinued);

        // In a session: a follow-up question with the start of its answer, then one more question, which reuses the
        // whole conversation's cache.
        var first = await OpenAiHttp.CompleteAsync(http, Body(user.DeepClone()));
        string session = (string)first["session_id"]!;
        var followUp = Body(OpenAiHttp.Message("user", ShapesText.WhatColor), "it is");
        followUp["session_id"] = session;
        // In a session a last assistant message may be the answer already given: a start of the answer is marked.
        var unmarked = await OpenAiHttp.FailsAsync(http, followUp);
        Assert.Equal("messages", unmarked.Param);
        followUp["continue_final_message"] = true;
        var second = await OpenAiHttp.CompleteAsync(http, followUp);
        Assert.Equal(session, (string)second["session_id"]!);
        var third = Body(OpenAiHttp.Message("user", ShapesText.WhatShape));
        third["session_id"] = session;
        third["messages"]!.AsArray().Insert(0, OpenAiHttp.Message("assistant", "it is" + Content(second)));
        var after = await OpenAiHttp.CompleteAsync(http, third);
        Assert.True((int)after["usage"]!["prompt_tokens_details"]!["cached_tokens"]! >= (int)second["usage"]!["prompt_tokens"]!,
            "the third turn did not reuse the second turn's cache");
    }
}
