using System.Text.Json;
using System.Text.Json.Nodes;
using RegionChat.Data.Shapes;
using RegionChat.Server.Tests.Services;
using RegionChat.TestSupport;

namespace RegionChat.Server.Tests.OpenAi;

/// <summary>
/// OpenAI's response_format json_object, vLLM's guided_choice and structured_outputs on the committed shapes-tiny:
/// given the scene's captions as choices, a masked object is answered with its own caption, streamed or not.
/// </summary>
public class OpenAiStructuredOutputTests
{
    [Fact]
    public async Task AChoiceAndAJsonObjectKeepTheirShape()
    {
        await using var host = await ServerHost.StartAsync(new Dictionary<string, string?>
        {
            ["RegionChat:ModelsPath"] = Path.Combine(SharedFiles.RepoRoot, "models"),
            ["RegionChat:DefaultModel"] = "shapes-tiny",
        });
        using var http = OpenAiHttp.Http(host);
        var scene = ShapesGenerator.Generate(1_000_000_777);
        byte[] image = TestImages.SavedPng(p => scene.SavePng(p)).ToByteArray();
        var target = scene.Objects[2];
        byte[] mask = TestImages.SavedPng(p => ShapesPng.SaveMaskPng(target.VisibleMask, p)).ToByteArray();
        var user = OpenAiHttp.UserWithImage(ShapesText.DescribeRegion, image,
            new JsonObject { ["mask"] = "data:image/png;base64," + Convert.ToBase64String(mask) });
        string[] captions = scene.Objects.Select(o => o.Caption).Distinct().ToArray();
        JsonObject Body(Action<JsonObject> format, bool stream = false)
        {
            var body = OpenAiHttp.Body(48, user.DeepClone());
            body["model"] = "shapes-tiny";
            body["stream"] = stream;
            format(body);
            return body;
        }
        static string Content(JsonObject c) => (string)c["choices"]![0]!["message"]!["content"]!;
        static JsonArray List(IEnumerable<string> items) => new(items.Select(i => (JsonNode)i).ToArray());

        var guided = await OpenAiHttp.CompleteAsync(http, Body(b => b["guided_choice"] = List(captions)));
        Assert.Equal(target.Caption, Content(guided));
        Assert.Equal("stop", (string)guided["choices"]![0]!["finish_reason"]!);
        string[] others = captions.Where(c => c != target.Caption).ToArray();
        var streamed = await OpenAiHttp.StreamAsync(http, Body(b => b["guided_choice"] = List(others), stream: true));
        Assert.Contains(streamed.Text, others);
        var structured = await OpenAiHttp.CompleteAsync(http, Body(b => b["structured_outputs"] = new JsonObject { ["choice"] = List(others) }));
        Assert.Equal(streamed.Text, Content(structured));

        var json = await OpenAiHttp.CompleteAsync(http, Body(b => b["response_format"] = new JsonObject { ["type"] = "json_object" }));
        string text = Content(json);
        Assert.True(JsonPrefix.IsObjectSoFar(text) && text.StartsWith('{'), text);
        if ((string)json["choices"]![0]!["finish_reason"]! == "stop")
            Assert.Equal(JsonValueKind.Object, JsonDocument.Parse(text).RootElement.ValueKind);
        var same = await OpenAiHttp.CompleteAsync(http, Body(b => b["structured_outputs"] = new JsonObject { ["json_object"] = true }));
        Assert.Equal(text, Content(same));
        var schema = JsonNode.Parse(AnswerFormatTests.AttributeSchema())!;
        var schemaBody = Body(b => b["response_format"] = new JsonObject
        {
            ["type"] = "json_schema", ["json_schema"] = new JsonObject { ["name"] = "attributes", ["strict"] = true, ["schema"] = schema.DeepClone() },
        });
        schemaBody["max_tokens"] = 200;
        string attributes = Content(await OpenAiHttp.CompleteAsync(http, schemaBody));
        Assert.Equal(3, AnswerFormatTests.Attributes(attributes).Length);
        foreach (var vllm in new Action<JsonObject>[]
                 {
                     b => b["guided_json"] = schema.DeepClone(),
                     b => b["guided_json"] = schema.ToJsonString(),
                     b => b["structured_outputs"] = new JsonObject { ["json"] = schema.DeepClone() },
                     b => b["json_schema"] = schema.DeepClone(),
                 })
        {
            var body = Body(vllm);
            body["max_tokens"] = 200;
            Assert.Equal(attributes, Content(await OpenAiHttp.CompleteAsync(http, body)));
        }
        var regex = await OpenAiHttp.CompleteAsync(http, Body(b => b["guided_regex"] = "(a )?(small|large) [a-z]+ [a-z]+"));
        Assert.Equal(target.Caption, Content(regex));
        var bent = await OpenAiHttp.StreamAsync(http, Body(b => b["structured_outputs"] = new JsonObject { ["regex"] = "[0-9]{2} (red|blue)" }, stream: true));
        Assert.Matches("^[0-9]{2} (red|blue)$", bent.Text);
        var plain = await OpenAiHttp.CompleteAsync(http, Body(b => b["response_format"] = new JsonObject { ["type"] = "text" }));
        Assert.Equal(target.Caption, Content(plain));
    }

    [Fact]
    public async Task TheOfficialClientsResponseFormatsAreKept()
    {
        await using var host = await ServerHost.StartAsync();
        var client = OpenAiHttp.Client(host);
        var question = new OpenAI.Chat.UserChatMessage("describe this region");
        var schema = new OpenAI.Chat.ChatCompletionOptions
        {
            Temperature = 0, MaxOutputTokenCount = 300,
            ResponseFormat = OpenAI.Chat.ChatResponseFormat.CreateJsonSchemaFormat("answer", BinaryData.FromString(
                """{"type": "object", "properties": {"ok": {"type": "boolean"}, "size": {"enum": ["small", "large"]}}, "required": ["ok", "size"]}"""),
                jsonSchemaIsStrict: true),
        };
        var completion = (await client.CompleteChatAsync([question], schema)).Value;
        Assert.Equal(OpenAI.Chat.ChatFinishReason.Stop, completion.FinishReason);
        using var answer = JsonDocument.Parse(completion.Content[0].Text);
        Assert.Equal(["ok", "size"], answer.RootElement.EnumerateObject().Select(p => p.Name));
        Assert.Contains(answer.RootElement.GetProperty("size").GetString(), new[] { "small", "large" });

        var json = new OpenAI.Chat.ChatCompletionOptions
        {
            Temperature = 0, MaxOutputTokenCount = 12, ResponseFormat = OpenAI.Chat.ChatResponseFormat.CreateJsonObjectFormat(),
        };
        string text = (await client.CompleteChatAsync([question], json)).Value.Content[0].Text;
        Assert.True(text.StartsWith('{') && JsonPrefix.IsObjectSoFar(text), text);
    }
}
