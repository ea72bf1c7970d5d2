using System.Text.Json.Nodes;
using RegionChat.Training.Clip;
using RegionChat.Training.Llava;
using RegionChat.Vision;
using TorchSharp;

namespace RegionChat.Training.Pipeline;

/// <summary>
/// A seeded, untrained Alpha-CLIP tower in the trained towers' file layout (vision.safetensors + vision.json), so the
/// LLaVA stages can run before stage 2 has produced a tower. Its patch features are still a deterministic function of
/// image and alpha (the alpha conv is random, not zero), which is enough to test the plumbing, not to answer well.
/// </summary>
public static class RandomVisionTower
{
    /// <summary>Writes the tower into <paramref name="folder"/> unless one is already there; returns the folder.</summary>
    public static string Ensure(string folder, AlphaClipConfig config, long seed)
    {
        if (ShapesModelFiles.HasVision(folder)) return folder;
        torch.manual_seed(seed);
        using var vision = new AlphaClipVisionTransformer(config);
        ClipTowerFiles.SaveVision(vision, folder,
            new JsonObject { ["stage"] = "random", ["seed"] = seed, ["note"] = "untrained: a stand-in until stage 2 provides a tower" });
        return folder;
    }
}
