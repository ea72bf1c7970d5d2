using System.Text.Json;
using System.Text.Json.Nodes;

namespace RegionChat.Training.Clip.Internal;

/// <summary>A run folder's run.json: written by the first run, and every later run in the folder must have the same
/// "training" settings (a resume continues the very run it found).</summary>
internal static class RunSettingsFile
{
    /// <summary>Writes <paramref name="runInfo"/> with <paramref name="training"/> to <paramref name="path"/>, or checks
    /// that the file already there holds the same training settings.</summary>
    /// <exception cref="ArgumentException">The folder holds a run with other settings (the first difference named).</exception>
    public static void WriteOrCheck(string path, JsonObject training, JsonObject runInfo)
    {
        if (File.Exists(path))
        {
            var saved = (JsonNode.Parse(File.ReadAllText(path)) as JsonObject)?["training"] as JsonObject
                ?? throw new InvalidDataException($"{path}: no \"training\" object");
            if (FirstDifference(saved, training) is { } difference)
                throw new ArgumentException($"{Path.GetDirectoryName(path)} holds a {saved["stage"]} run with other settings ({difference}); " +
                                            "resume with the same settings or use another output folder");
            return;
        }
        runInfo["training"] = training;
        File.WriteAllText(path, runInfo.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
    }

    static string? FirstDifference(JsonObject saved, JsonObject now)
    {
        foreach (var (k, v) in now)
        {
            string a = saved[k]?.ToJsonString() ?? "null", b = v?.ToJsonString() ?? "null";
            if (a != b) return $"{k}: saved {a}, now {b}";
        }
        foreach (var (k, _) in saved)
            if (!now.ContainsKey(k)) return $"{k}: saved, now absent";
        return null;
    }
}
