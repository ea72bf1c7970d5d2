using System.ClientModel;
using System.Net;
using System.Text.Json.Nodes;
using OpenAI;
using OpenAI.Embeddings;
using RegionChat.Data.Shapes;
using RegionChat.Server.Tests.Services;
using PbV1 = RegionChat.Protos.V1;

namespace RegionChat.Server.Tests.OpenAi;

/// <summary>POST /v1/embeddings: OpenAI's embeddings API over shapes-tiny's classifier, the same vectors as gRPC Embed,
/// through the official .NET client and as raw JSON with the region extension.</summary>
public class OpenAiEmbeddingsTests(ShapesTinyHost fixture) : IClassFixture<ShapesTinyHost>
{
    static readonly string[] Texts = ["a large red circle", "a small blue cross"];

    async Task<PbV1.EmbedResponse> GrpcAsync(PbV1.EmbedRequest request) =>
        await fixture.Host.Client.EmbedAsync(request, deadline: Calls.Deadline());

    [Fact]
    public async Task TheOfficialClientGetsTheTextVectorsGrpcEmbedGives()
    {
        var client = new EmbeddingClient("shapes-tiny", new ApiKeyCredential("no-key"), new OpenAIClientOptions
        {
            Endpoint = new Uri(fixture.Host.HttpAddress, "v1"),
            RetryPolicy = new System.ClientModel.Primitives.ClientRetryPolicy(0),
        });
        OpenAIEmbeddingCollection embeddings = await client.GenerateEmbeddingsAsync(Texts);
        var expected = await GrpcAsync(new PbV1.EmbedRequest { Texts = { Texts } });
        Assert.Equal(2, embeddings.Count);
        for (int i = 0; i < 2; i++)
        {
            Assert.Equal(i, embeddings[i].Index);
            Assert.Equal(expected.Texts[i].Values, embeddings[i].ToFloats().ToArray());
        }
        Assert.True(embeddings.Usage.InputTokenCount > 0);
    }

    [Fact]
    public async Task RawJsonGivesFloatsOrBase64AndRegionVectorsWithTheImageExtension()
    {
        using var http = OpenAiHttp.Http(fixture.Host);
        var scene = ShapesGenerator.Generate(ShapesSeeds.TestStart + 700);
        var png = TestImages.SavedPng(p => scene.SavePng(p));
        var body = new JsonObject
        {
            ["model"] = "shapes-tiny", ["input"] = "a large red circle", ["encoding_format"] = "float",
            ["image"] = "data:image/png;base64," + png.ToBase64(), ["regions"] = new JsonArray(new JsonObject { ["box"] = new JsonArray(0, 0, 32, 32) }),
        };
        var answer = await OpenAiHttp.CompleteAsync(http, body, path: "/v1/embeddings");
        Assert.Equal("list", (string?)answer["object"]);
        var expected = await GrpcAsync(new PbV1.EmbedRequest
        {
            Image = new() { Data = png }, Regions = { Calls.Box(0, 0, 32, 32) }, Texts = { "a large red circle" },
        });
        float[] Floats(JsonNode? node) => node!["embedding"]!.AsArray().Select(v => (float)v!).ToArray();
        Assert.Equal(expected.Texts[0].Values, Floats(answer["data"]![0]));
        Assert.Equal(expected.Regions[0].Values, Floats(answer["region_embeddings"]![0]));
        Assert.Equal("embedding", (string?)answer["data"]![0]!["object"]);

        body["encoding_format"] = "base64";
        body.Remove("image");
        body.Remove("regions");
        var packed = await OpenAiHttp.CompleteAsync(http, body, path: "/v1/embeddings");
        Assert.Null(packed["region_embeddings"]);
        byte[] bytes = Convert.FromBase64String((string)packed["data"]![0]!["embedding"]!);
        Assert.Equal(expected.Texts[0].Values, System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(bytes).ToArray());
    }

    [Fact]
    public async Task ADimensionsTheModelCannotGiveIsRefusedBeforeAnyRegionIsEncoded()
    {
        using var http = OpenAiHttp.Http(fixture.Host);
        long encoded = fixture.Host.Core.VisionBatcher.Items;
        var body = new JsonObject
        {
            ["model"] = "shapes-tiny", ["input"] = "a red circle", ["dimensions"] = 64,
            ["image"] = TestImages.DataUrl(TestImages.Scene(77)), ["regions"] = new JsonArray(new JsonObject { ["box"] = new JsonArray(0, 0, 32, 32) }),
        };
        var error = await OpenAiHttp.FailsAsync(http, OpenAiHttp.Post(body.ToJsonString(), path: "/v1/embeddings"));
        Assert.Equal((HttpStatusCode.BadRequest, "dimensions"), (error.Status, error.Param));
        Assert.Contains("128 dimensions", error.Message);
        Assert.Equal(encoded, fixture.Host.Core.VisionBatcher.Items);
    }

    [Fact]
    public async Task RepeatedInputsGetAVectorEachAndNullFieldsAreAbsent()
    {
        // As OpenAI's API: a document set with repeated chunks embeds, and optional fields sent as null mean unset.
        using var http = OpenAiHttp.Http(fixture.Host);
        var response = await http.SendAsync(OpenAiHttp.Post("""
            {"model": "shapes-tiny", "input": ["a red circle", "a blue cross", "a red circle"], "encoding_format": null, "dimensions": null,
             "regions": null}
            """, path: "/v1/embeddings"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var data = System.Text.Json.Nodes.JsonNode.Parse(await response.Content.ReadAsStringAsync())!["data"]!.AsArray();
        Assert.Equal(3, data.Count);
        string Vector(int i) => data[i]!["embedding"]!.ToJsonString();
        Assert.Equal(Vector(0), Vector(2));
        Assert.NotEqual(Vector(0), Vector(1));
    }

    [Theory]
    [InlineData("{\"model\": \"shapes-tiny\"}", "input")]
    [InlineData("{\"model\": \"shapes-tiny\", \"input\": []}", "input")]
    [InlineData("{\"model\": \"shapes-tiny\", \"input\": [[1, 2, 3]]}", "input[0]")]
    [InlineData("{\"model\": \"shapes-tiny\", \"input\": \"a pink elephant\"}", "input[0]")]
    [InlineData("{\"model\": \"shapes-tiny\", \"input\": [\"a red circle\", \" \"]}", "input[1]")]
    [InlineData("{\"model\": \"shapes-tiny\", \"input\": \"a red circle\", \"encoding_format\": \"int8\"}", "encoding_format")]
    [InlineData("{\"model\": \"shapes-tiny\", \"input\": \"a red circle\", \"dimensions\": 64}", "dimensions")]
    [InlineData("{\"model\": \"shapes-tiny\", \"input\": \"a red circle\", \"regions\": [{\"box\": [0, 0, 8, 8]}]}", "regions")]
    public async Task BadRequestsAre400sNamingTheParam(string json, string param)
    {
        using var http = OpenAiHttp.Http(fixture.Host);
        var error = await OpenAiHttp.FailsAsync(http, OpenAiHttp.Post(json, path: "/v1/embeddings"));
        Assert.Equal(HttpStatusCode.BadRequest, error.Status);
        Assert.Equal(param, error.Param);
    }
}
