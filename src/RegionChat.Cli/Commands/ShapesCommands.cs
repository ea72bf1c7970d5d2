using System.CommandLine;
using RegionChat.Data.Shapes;

namespace RegionChat.Cli.Commands;

/// <summary>`regionchat shapes render|export`: the synthetic shapes world the default model trains and is tested on.</summary>
internal static class ShapesCommands
{
    const int MaxExportCount = 1_000_000;

    public static Command Create()
    {
        var command = new Command("shapes", "The shapes world: deterministic synthetic scenes with captions and QA.");
        command.Subcommands.Add(Render());
        command.Subcommands.Add(Export());
        command.Subcommands.Add(Bench());
        return command;
    }

    static Command Render()
    {
        var seed = new Option<long>("--seed") { Description = "Scene seed (train < 900000000 ≤ validation < 1000000000 ≤ test).", Required = true };
        var output = new Option<string>("--out") { Description = "PNG file to write the scene to.", Required = true };
        var masks = new Option<string?>("--masks") { Description = "Folder to write one visible-mask PNG per object into." };
        var scale = new Option<int>("--scale") { Description = "Enlarge by this factor (nearest neighbour), for viewing.", DefaultValueFactory = _ => 1 };
        var command = new Command("render", "Render one scene to PNG and print its captions and QA.") { seed, output, masks, scale };
        command.SetAction(parse => Guard(parse, () =>
        {
            var scene = ShapesGenerator.Generate(parse.GetValue(seed));
            int k = parse.GetValue(scale);
            string path = parse.GetValue(output)!;
            EnsureParent(path);
            scene.SavePng(path, k);
            var stdout = parse.InvocationConfiguration.Output;
            stdout.WriteLine($"seed {scene.Seed} ({ShapesSeeds.SplitOf(scene.Seed).ToString().ToLowerInvariant()}): " +
                             $"{scene.Objects.Count} object(s), background grey {scene.BackgroundGrey}");
            foreach (var qa in scene.Qa) stdout.WriteLine($"  image: {qa.Question} -> {qa.Answer}");
            string? maskDir = parse.GetValue(masks);
            if (maskDir != null) Directory.CreateDirectory(maskDir);
            foreach (var o in scene.Objects)
            {
                stdout.WriteLine($"  region {o.Index}: box {o.Box} visible {o.VisibleArea}/{o.Area} px");
                foreach (var qa in o.Qa) stdout.WriteLine($"    {qa.Question} -> {qa.Answer}");
                if (maskDir != null) ShapesPng.SaveMaskPng(o.VisibleMask, Path.Combine(maskDir, $"region-{o.Index}.png"), k);
            }
            stdout.WriteLine($"wrote {path}" + (maskDir != null ? $" and {scene.Objects.Count} mask(s) in {maskDir}" : ""));
        }));
        return command;
    }

    static Command Export()
    {
        var output = new Option<string>("--out") { Description = "Folder to write the dataset into.", Required = true };
        var count = new Option<int>("--count") { Description = $"Number of scenes (1..{MaxExportCount}).", Required = true };
        var split = new Option<ShapesSplit>("--split") { Description = "Seed split the scenes must come from.", DefaultValueFactory = _ => ShapesSplit.Test };
        var seed = new Option<long?>("--seed") { Description = "First seed (default: the first seed of the split)." };
        var coco = new Option<bool>("--coco") { Description = "Also write coco.json (polygons / compressed RLE, bbox, caption)." };
        var command = new Command("export", "Write scenes as PNG + mask PNGs + shapes.jsonl (and coco.json).") { output, count, split, seed, coco };
        command.SetAction(parse => Guard(parse, () =>
        {
            int n = parse.GetValue(count);
            if (n < 1 || n > MaxExportCount)
                throw new ArgumentOutOfRangeException("--count", n, $"--count must be 1..{MaxExportCount}");
            var s = parse.GetValue(split);
            long first = parse.GetValue(seed) ?? ShapesSeeds.Range(s).First;
            ShapesSeeds.Require(s, first, n);
            var result = ShapesExporter.Export(parse.GetValue(output)!, first, n, parse.GetValue(coco));
            var stdout = parse.InvocationConfiguration.Output;
            stdout.WriteLine($"wrote {result.Scenes} scene(s) (seeds {first}..{first + n - 1}), {result.Regions} region(s) to {result.Folder}");
            stdout.WriteLine($"  {result.JsonlPath}");
            if (result.CocoPath != null) stdout.WriteLine($"  {result.CocoPath}");
        }));
        return command;
    }

    static Command Bench()
    {
        var count = new Option<int>("--count") { Description = "Scenes to generate (1..10000000).", DefaultValueFactory = _ => 20_000 };
        var seed = new Option<long>("--seed") { Description = "First seed.", DefaultValueFactory = _ => 0 };
        var command = new Command("bench", "Measure scene generation speed (single thread).") { count, seed };
        command.SetAction(parse => Guard(parse, () =>
        {
            int n = parse.GetValue(count);
            if (n < 1 || n > 10_000_000) throw new ArgumentOutOfRangeException("--count", n, "--count must be 1..10000000");
            long first = parse.GetValue(seed);
            ShapesGenerator.Generate(first); // warm-up (JIT)
            var clock = System.Diagnostics.Stopwatch.StartNew();
            long objects = 0;
            foreach (var scene in ShapesGenerator.GenerateMany(first, n)) objects += scene.Objects.Count;
            double seconds = clock.Elapsed.TotalSeconds;
            parse.InvocationConfiguration.Output.WriteLine(
                $"{n} scenes ({objects} objects) in {seconds:F2} s: {n / seconds:F0} scenes/s, {seconds / n * 1e6:F0} us/scene");
        }));
        return command;
    }

    /// <summary>Bad input gives one clear line on stderr and exit code 1 instead of a stack trace.</summary>
    static int Guard(ParseResult parse, Action body)
    {
        try
        {
            body();
            return 0;
        }
        catch (Exception e) when (e is ArgumentException or IOException or UnauthorizedAccessException or InvalidDataException)
        {
            string message = e.Message;
            if (e is ArgumentException { ParamName: { } name }) message = message.Replace($" (Parameter '{name}')", "");
            parse.InvocationConfiguration.Error.WriteLine($"error: {message.Split('\n')[0].Trim()}");
            return 1;
        }
    }

    static void EnsureParent(string path)
    {
        string? dir = Path.GetDirectoryName(Path.GetFullPath(path));
        if (dir != null) Directory.CreateDirectory(dir);
    }
}
