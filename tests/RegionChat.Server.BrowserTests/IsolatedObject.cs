using RegionChat.Data.Shapes;

namespace RegionChat.Server.BrowserTests;

/// <summary>A test-split shapes scene with a large object that nothing overlaps, not even another object's box, so a box
/// drawn over it holds that object alone.</summary>
public sealed record IsolatedObject(ShapesScene Scene, ShapesObject Target)
{
    /// <summary>The first such scene from <paramref name="firstSeed"/> on (test seeds start at 1 000 000 000).</summary>
    public static IsolatedObject Find(long firstSeed = 1_000_000_000)
    {
        for (long seed = firstSeed; seed < firstSeed + 1000; seed++)
        {
            var scene = ShapesGenerator.Generate(ShapesSplit.Test, seed);
            if (scene.Objects.Count < 2) continue; // a lone object would be the whole image's answer too
            foreach (var o in scene.Objects)
                if (o.Size == ShapeSize.Large && o.VisibleArea == o.Area && scene.Objects.All(other => other == o || !Intersect(o.Box, other.Box)))
                    return new IsolatedObject(scene, o);
        }
        throw new InvalidOperationException($"no scene with an isolated large object in seeds {firstSeed}..{firstSeed + 999}");
    }

    /// <summary>Writes the scene as a 64×64 PNG.</summary>
    public string SavePng(string path)
    {
        Scene.SavePng(path);
        return path;
    }

    static bool Intersect(PixelBox a, PixelBox b) => a.X0 < b.X1 && b.X0 < a.X1 && a.Y0 < b.Y1 && b.Y0 < a.Y1;
}

/// <summary>A test-split scene with two isolated large objects (as <see cref="IsolatedObject"/>) that differ in colour
/// and in shape, so an answer about one cannot pass for the other.</summary>
public sealed record IsolatedPair(ShapesScene Scene, ShapesObject First, ShapesObject Second)
{
    /// <summary>The first such scene from <paramref name="firstSeed"/> on.</summary>
    public static IsolatedPair Find(long firstSeed = 1_000_000_000)
    {
        for (long seed = firstSeed; seed < firstSeed + 20_000; seed++)
        {
            var scene = ShapesGenerator.Generate(ShapesSplit.Test, seed);
            var isolated = scene.Objects.Where(o => o.Size == ShapeSize.Large && o.VisibleArea == o.Area
                && scene.Objects.All(other => other == o || !Intersect(o.Box, other.Box))).ToList();
            foreach (var a in isolated)
                foreach (var b in isolated)
                    if (a.Color != b.Color && a.Shape != b.Shape)
                        return new IsolatedPair(scene, a, b);
        }
        throw new InvalidOperationException($"no scene with two isolated large objects in seeds {firstSeed}..{firstSeed + 19_999}");
    }

    /// <summary>Writes the scene as a 64×64 PNG.</summary>
    public string SavePng(string path)
    {
        Scene.SavePng(path);
        return path;
    }

    static bool Intersect(PixelBox a, PixelBox b) => a.X0 < b.X1 && b.X0 < a.X1 && a.Y0 < b.Y1 && b.Y0 < a.Y1;
}
