using Microsoft.Extensions.AI;
using System.Text.Json;
using RegionChat.Client.Internal;
using PbV1 = RegionChat.Protos.V1;

namespace RegionChat.Client.Tests;

/// <summary>How Microsoft.Extensions.AI messages and options become one RegionChat turn (no server needed).</summary>
public class ChatRequestMapperTests
{
    static readonly byte[] Png = [0x89, (byte)'P', (byte)'N', (byte)'G', 1, 2, 3];
    static readonly IChatClient Client = new RegionChatChatClient("http://127.0.0.1:1");

    static PbV1.ChatRequest Map(IEnumerable<ChatMessage> messages, ChatOptions? options = null, string? model = null) =>
        ChatRequestMapper.ToRequest(Client, messages, options, model);

    [Fact]
    public void ALastAssistantMessageAfterTheQuestionIsTheAnswerStart()
    {
        var r = Map([new(ChatRole.User, "what is it?"), new(ChatRole.Assistant, "It is")]);
        Assert.Equal("what is it?", r.Message.Text);
        Assert.Equal("It is", r.AnswerStart);
        Assert.Equal("It is", new ChatTurn("q") { AnswerStart = "It is" }.ToProto().AnswerStart);
        // An earlier answer still needs the conversation's id: only the last one after a question starts an answer.
        Assert.Throws<NotSupportedException>(() => Map([new(ChatRole.User, "a"), new(ChatRole.Assistant, "b"), new(ChatRole.User, "c")]));
        // In a conversation a last answer may be the one already given (nothing new: refused), unless marked as vLLM marks it.
        var options = new ChatOptions { ConversationId = "s-1" };
        Assert.Throws<ArgumentException>(() => Map([new(ChatRole.User, "q"), new(ChatRole.Assistant, "It is")], options));
        options.AdditionalProperties = new() { ["continue_final_message"] = true };
        Assert.Equal("It is", Map([new(ChatRole.User, "q"), new(ChatRole.Assistant, "It is")], options).AnswerStart);
    }

    [Fact]
    public void OptionsMapToSamplingStopMaxTokensModelAndSystemPrompt()
    {
        var options = new ChatOptions
        {
            Temperature = 0.7f, TopP = 0.9f, TopK = 40, Seed = -1, MaxOutputTokens = 33, StopSequences = ["END", "\n\n"],
            ModelId = "m1", Instructions = "be brief",
            AdditionalProperties = new() { ["min_p"] = 0.05, ["repeat_penalty"] = 1.1f, ["repeat_last_n"] = 32 },
        };
        var r = Map([new(ChatRole.System, "about shapes"), new(ChatRole.User, "hi")], options);
        Assert.Equal(0.7f, r.Sampling.Temperature);
        Assert.Equal(0.9f, r.Sampling.TopP);
        Assert.Equal(40, r.Sampling.TopK);
        Assert.Equal(ulong.MaxValue, r.Sampling.Seed);
        Assert.Equal(0.05f, r.Sampling.MinP);
        Assert.Equal(1.1f, r.Sampling.RepeatPenalty);
        Assert.Equal(32, r.Sampling.RepeatLastN);
        Assert.Equal(33u, r.MaxTokens);
        Assert.Equal(["END", "\n\n"], r.Stop);
        Assert.Equal("m1", r.Model);
        Assert.Equal("be brief\nabout shapes", r.SystemPrompt);
        Assert.Equal("hi", r.Message.Text);
        Assert.Equal("", r.SessionId);

        var plain = Map([new(ChatRole.User, "hi")], model: "default-model");
        Assert.Null(plain.Sampling);
        Assert.Equal(0u, plain.MaxTokens);
        Assert.Equal("default-model", plain.Model);
    }

    [Fact]
    public void ExtrasReadFromJsonAreHonouredAndOnesThatAreNotNumbersAreRefused()
    {
        // Settings loaded from JSON or YAML (Semantic Kernel's execution settings) arrive as JsonElement.
        var json = System.Text.Json.JsonDocument.Parse("""{"min_p": 0.05, "repeat_penalty": "1.1", "repeat_last_n": 32}""").RootElement;
        var options = new ChatOptions { AdditionalProperties = new() };
        foreach (var p in json.EnumerateObject()) options.AdditionalProperties[p.Name] = p.Value.Clone();
        var r = Map([new(ChatRole.User, "hi")], options);
        Assert.Equal(0.05f, r.Sampling.MinP);
        Assert.Equal(1.1f, r.Sampling.RepeatPenalty);
        Assert.Equal(32, r.Sampling.RepeatLastN);

        foreach (var (key, value) in new (string, object)[] { ("min_p", "a lot"), ("repeat_last_n", 2.5), ("repeat_penalty", true) })
        {
            var bad = new ChatOptions { AdditionalProperties = new() { [key] = value } };
            var e = Assert.Throws<ArgumentException>(() => Map([new(ChatRole.User, "hi")], bad));
            Assert.Contains($"[\"{key}\"]", e.Message);
        }
    }

    [Fact]
    public void LogitBiasAndGuidedFormatsRideInTheExtras()
    {
        var typed = Map([new(ChatRole.User, "hi")], new ChatOptions
        {
            AdditionalProperties = new() { ["logit_bias"] = new Dictionary<int, float> { [5] = -100, [7] = 2.5f }, ["guided_regex"] = "(yes|no)" },
        });
        Assert.Equal(new Dictionary<int, float> { [5] = -100, [7] = 2.5f }, typed.Sampling.LogitBias);
        Assert.Equal("(yes|no)", typed.Sampling.Format.Regex.Pattern);

        var json = System.Text.Json.JsonDocument.Parse("""{"logit_bias": {"5": -100, "9": "1.5"}, "guided_choice": ["yes", "no"]}""").RootElement;
        var options = new ChatOptions { AdditionalProperties = new() };
        foreach (var p in json.EnumerateObject()) options.AdditionalProperties[p.Name] = p.Value.Clone();
        var fromJson = Map([new(ChatRole.User, "hi")], options);
        Assert.Equal(new Dictionary<int, float> { [5] = -100, [9] = 1.5f }, fromJson.Sampling.LogitBias);
        Assert.Equal(["yes", "no"], fromJson.Sampling.Format.Choice.Choices);

        foreach (var bad in new ChatOptions[]
                 {
                     new() { AdditionalProperties = new() { ["logit_bias"] = new Dictionary<string, float> { ["word"] = 1 } } },
                     new() { AdditionalProperties = new() { ["logit_bias"] = new Dictionary<int, object> { [1] = "a lot" } } },
                     new() { AdditionalProperties = new() { ["logit_bias"] = 5 } },
                     new() { AdditionalProperties = new() { ["guided_regex"] = 5 } },
                     new() { ResponseFormat = ChatResponseFormat.Json, AdditionalProperties = new() { ["guided_choice"] = new[] { "a" } } },
                 })
            Assert.Throws<ArgumentException>(() => Map([new(ChatRole.User, "hi")], bad));
    }

    [Fact]
    public void WithAConversationIdOnlyTheMessagesAfterTheLastAnswerAreSent()
    {
        ChatMessage[] history =
        [
            new(ChatRole.System, "old system"),
            new(ChatRole.User, [new DataContent(Png, "image/png"), new TextContent("first")]),
            new(ChatRole.Assistant, "an answer"),
            new(ChatRole.User, "second"),
            new(ChatRole.User, [new RegionContent(ImageRegion.Box(1, 1, 5, 5)), new TextContent("third")]),
        ];
        var r = Map(history, new ChatOptions { ConversationId = "s-123" });
        Assert.Equal("s-123", r.SessionId);
        Assert.Equal("second\nthird", r.Message.Text);
        Assert.Null(r.Message.Image); // the image is in the session already
        Assert.Equal(ImageRegion.Box(1, 1, 5, 5).ToProto(), r.Message.Region); // a region of the session's latest image
        Assert.Equal("", r.SystemPrompt);

        Assert.Throws<NotSupportedException>(() => Map(history));
        Assert.Throws<ArgumentException>(() => Map(history[..3], new ChatOptions { ConversationId = "s-123" }));
    }

    [Fact]
    public void ImagesRegionsAndTheirPrecedence()
    {
        var image = new DataContent(Png, "image/png") { AdditionalProperties = new() { ["region"] = ImageRegion.Box(0, 0, 2, 2) } };
        var message = new ChatMessage(ChatRole.User, [image, new TextContent("q")]) { AdditionalProperties = new() { ["region"] = ImageRegion.Box(0, 0, 3, 3) } };
        var options = new ChatOptions { AdditionalProperties = new() { ["region"] = ImageRegion.Box(0, 0, 4, 4) } };
        Assert.Equal(Png, Map([message], options).Message.Image.Data.ToByteArray());
        Assert.Equal(ImageRegion.Box(0, 0, 2, 2).ToProto(), Map([message], options).Message.Region);
        image.AdditionalProperties = null;
        Assert.Equal(ImageRegion.Box(0, 0, 3, 3).ToProto(), Map([message], options).Message.Region);
        message.AdditionalProperties = null;
        Assert.Equal(ImageRegion.Box(0, 0, 4, 4).ToProto(), Map([message], options).Message.Region);
        message.Contents.Add(new RegionContent(ImageRegion.Box(0, 0, 1, 1)));
        Assert.Equal(ImageRegion.Box(0, 0, 1, 1).ToProto(), Map([message], options).Message.Region);
        var proto = new PbV1.Region { WholeImage = true };
        Assert.Equal(proto, Map([new(ChatRole.User, "q") { AdditionalProperties = new() { ["region"] = proto } }]).Message.Region);

        var file = new HostedFileContent("sha256:abc") { AdditionalProperties = new() { ["region"] = """{"whole": true}""" } };
        var stored = Map([new(ChatRole.User, [file, new TextContent("q")])]);
        Assert.Equal("sha256:abc", stored.Message.Image.ImageId);
        Assert.Equal(proto, stored.Message.Region);
    }

    [Fact]
    public void WhatRegionChatCannotSendIsRefusedWithAClearMessage()
    {
        var two = Assert.Throws<ArgumentException>(() => Map([new(ChatRole.User, [new DataContent(Png, "image/png"), new DataContent(Png, "image/png")])]));
        Assert.Contains("one image", two.Message);
        var regions = Assert.Throws<ArgumentException>(() => Map([new(ChatRole.User, [new RegionContent(ImageRegion.Whole), new RegionContent(ImageRegion.Whole)])]));
        Assert.Contains("ImageRegion.Union", regions.Message);
        Assert.Contains("audio/wav", Assert.Throws<NotSupportedException>(() => Map([new(ChatRole.User, [new DataContent(Png, "audio/wav")])])).Message);
        Assert.Contains("URL", Assert.Throws<NotSupportedException>(() => Map([new(ChatRole.User, [new UriContent("https://example.com/a.png", "image/png")])])).Message);
        Assert.Contains("tool", Assert.Throws<NotSupportedException>(() => Map([new(ChatRole.Tool, "result")])).Message);
        var badRegion = Assert.Throws<ArgumentException>(() => Map([new(ChatRole.User, "q") { AdditionalProperties = new() { ["region"] = 42 } }]));
        Assert.Contains("AdditionalProperties[\"region\"]", badRegion.Message);
        var badJson = Assert.Throws<ArgumentException>(() => Map([new(ChatRole.User, "q") { AdditionalProperties = new() { ["region"] = """{"box": [1]}""" } }]));
        Assert.Contains("box", badJson.Message);
        Assert.Throws<ArgumentException>(() => Map([new(ChatRole.User, "q")], new ChatOptions { MaxOutputTokens = 0 }));
        // Options that would change the answer in ways the server cannot are refused, naming them; neutral values pass.
        ChatMessage[] q = [new(ChatRole.User, "q")];
        var tool = AIFunctionFactory.Create(() => 1, "one");
        var schema = ChatResponseFormat.ForJsonSchema(JsonDocument.Parse("{\"type\": \"object\"}").RootElement);
        Assert.Equal("{\"type\": \"object\"}", Map(q, new ChatOptions { ResponseFormat = schema }).Sampling.Format.JsonSchema.Schema);
        Assert.Equal(PbV1.AnswerFormat.KindOneofCase.JsonObject,
            Map(q, new ChatOptions { ResponseFormat = ChatResponseFormat.Json }).Sampling.Format.KindCase);
        Assert.Null(Map(q, new ChatOptions { ResponseFormat = ChatResponseFormat.Text }).Sampling?.Format);
        Assert.Contains("Tools", Assert.Throws<NotSupportedException>(() => Map(q, new ChatOptions { Tools = [tool] })).Message);
        var penalised = Map(q, new ChatOptions { FrequencyPenalty = 0.5f, PresencePenalty = -1f });
        Assert.Equal((0.5f, -1f), (penalised.Sampling.FrequencyPenalty, penalised.Sampling.PresencePenalty));
        Assert.Equal("q", Map(q, new ChatOptions
        {
            ResponseFormat = ChatResponseFormat.Text, Tools = [tool], ToolMode = ChatToolMode.None, FrequencyPenalty = 0, PresencePenalty = 0,
        }).Message.Text);
    }

    [Fact]
    public void ARawRequestFromTheOptionsFactoryIsTheStartingPoint()
    {
        var options = new ChatOptions
        {
            RawRepresentationFactory = _ => new PbV1.ChatRequest { Sampling = new PbV1.SamplingParams { MinP = 0.2f }, MaxTokens = 7 },
            Temperature = 0.5f,
        };
        var r = Map([new(ChatRole.User, "q")], options);
        Assert.Equal(0.2f, r.Sampling.MinP);
        Assert.Equal(0.5f, r.Sampling.Temperature);
        Assert.Equal(7u, r.MaxTokens);
    }
}
