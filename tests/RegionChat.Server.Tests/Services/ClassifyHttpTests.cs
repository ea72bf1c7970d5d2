using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using RegionChat.Data.Shapes;
using RegionChat.TestSupport;

namespace RegionChat.Server.Tests.Services;

/// <summary>POST /v1/classify on the HTTP listener of a real server on shapes-tiny.</summary>
public class ClassifyHttpTests(ShapesTinyHost fixture) : IClassFixture<ShapesTinyHost>
{
    static string DataUrl(Action<string> save) => "data:image/png;base64," + TestImages.SavedPng(save).ToBase64();

    [Fact]
    public async Task A_masked_object_is_classified_and_bad_bodies_name_the_param()
    {
        using var http = new HttpClient { BaseAddress = fixture.Host.HttpAddress, Timeout = TimeSpan.FromSeconds(60) };
        var scene = ShapesGenerator.Generate(ShapesSeeds.TestStart + 11);
        var target = scene.Objects[0];
        var labels = (from size in ShapeWords.AllSizes from color in ShapeWords.AllColors from shape in ShapeWords.AllShapes
                      select ShapesText.RegionCaption(size, color, shape)).ToArray();
        var body = new Dictionary<string, object>
        {
            ["image"] = DataUrl(p => scene.SavePng(p)),
            ["regions"] = new object[] { new Dictionary<string, object> { ["mask"] = DataUrl(p => ShapesPng.SaveMaskPng(target.VisibleMask, p)) } },
            ["labels"] = labels,
            ["top"] = 2,
        };
        using var ok = await http.PostAsJsonAsync("/v1/classify", body);
        string text = await ok.Content.ReadAsStringAsync();
        Assert.True(ok.StatusCode == HttpStatusCode.OK, text);
        using var doc = JsonDocument.Parse(text);
        Assert.Equal("classification", doc.RootElement.GetProperty("object").GetString());
        var ranked = doc.RootElement.GetProperty("regions")[0].GetProperty("labels");
        Assert.Equal(2, ranked.GetArrayLength());
        Assert.Equal(target.Caption, ranked[0].GetProperty("label").GetString());

        body["labels"] = Array.Empty<string>();
        using var none = await http.PostAsJsonAsync("/v1/classify", body);
        Assert.Equal(HttpStatusCode.BadRequest, none.StatusCode);
        using var error = JsonDocument.Parse(await none.Content.ReadAsStringAsync());
        Assert.Equal("labels", error.RootElement.GetProperty("error").GetProperty("param").GetString());
    }
}
