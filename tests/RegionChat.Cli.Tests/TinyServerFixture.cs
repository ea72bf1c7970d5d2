using System.Text.Json;
using RegionChat.Cli.Commands;
using RegionChat.Data.Regions;
using RegionChat.TestSupport;
using RegionChat.Data.Shapes;
using RegionChat.Vision.Regions;

namespace RegionChat.Cli.Tests;

/// <summary>A tiny random model (TinyModel) served by the real server on a loopback port, plus a scene image and the
/// region files the client verbs take, written once for a test class.</summary>
public sealed class TinyServerFixture : IAsyncLifetime
{
    readonly TempDir temp = new();
    internal InProcessServer Server { get; private set; } = null!;

    public string ModelDir { get; private set; } = "";
    public string Url => Server.Address.ToString();
    public string ImagePath => temp.File("scene.png");
    public string MaskPath => temp.File("mask.png");
    public string RlePath => temp.File("rle.json");
    public string OtherImagePath => temp.File("scene2.png");
    /// <summary>The first object's box in the scene, "x0,y0,x1,y1".</summary>
    public string Box { get; private set; } = "";

    public async Task InitializeAsync()
    {
        ModelDir = TinyModel.Write(Path.Combine(temp.Path, "models", "tiny"));
        var scene = ShapesGenerator.Generate(1_000_000_123);
        scene.SavePng(ImagePath);
        ShapesGenerator.Generate(1_000_000_456).SavePng(OtherImagePath);
        var target = scene.Objects[0];
        Box = $"{target.Box.X0},{target.Box.Y0},{target.Box.X1},{target.Box.Y1}";
        ShapesPng.SaveMaskPng(target.VisibleMask, MaskPath);
        var mask = new RegionMask(scene.Width, scene.Height, target.VisibleMask.Select(v => v != 0 ? RegionMask.Inside : (byte)0).ToArray());
        var rle = CocoRle.Encode(mask);
        File.WriteAllText(RlePath, JsonSerializer.Serialize(new { size = rle.Size, counts = rle.Counts }));
        Server = await InProcessServer.StartAsync(ModelDir, new Dictionary<string, string?>
        {
            ["RegionChat:Threads"] = "1",
            ["RegionChat:ContextSize"] = "4096",
        });
    }

    public async Task DisposeAsync()
    {
        if (Server != null) await Server.DisposeAsync();
        temp.Dispose();
    }
}
