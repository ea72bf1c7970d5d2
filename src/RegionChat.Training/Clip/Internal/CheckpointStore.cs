using System.Globalization;
using System.Text.Json.Nodes;
using RegionChat.Vision;
using static TorchSharp.torch;

namespace RegionChat.Training.Clip.Internal;

/// <summary>
/// checkpoints/step-NNNNNNNN/{state.safetensors, state.json}. A checkpoint is written into a ".partial" folder and
/// renamed when complete, so a run killed mid-write resumes from the previous one.
/// </summary>
internal sealed class CheckpointStore(string runFolder, int keep)
{
    public const string StateWeights = "state.safetensors", StateJson = "state.json";
    const string Prefix = "step-", PartialSuffix = ".partial";

    public string Folder { get; } = Path.Combine(runFolder, "checkpoints");

    public string Save(int step, IEnumerable<KeyValuePair<string, Tensor>> tensors, JsonObject state)
    {
        Directory.CreateDirectory(Folder);
        string final = Path.Combine(Folder, Prefix + step.ToString("D8", CultureInfo.InvariantCulture));
        string partial = final + PartialSuffix;
        if (Directory.Exists(partial)) Directory.Delete(partial, recursive: true);
        Directory.CreateDirectory(partial);
        StateDictFile.WriteSafetensors(Path.Combine(partial, StateWeights), tensors);
        File.WriteAllText(Path.Combine(partial, StateJson), state.ToJsonString() + "\n");
        if (Directory.Exists(final)) Directory.Delete(final, recursive: true);
        Directory.Move(partial, final);
        foreach (var (_, old) in Complete().OrderByDescending(c => c.Step).Skip(keep)) Directory.Delete(old, recursive: true);
        return final;
    }

    /// <summary>The newest complete checkpoint, or null.</summary>
    public (int Step, string Folder)? Latest() => Complete().OrderByDescending(c => c.Step).Cast<(int, string)?>().FirstOrDefault();

    public static (Dictionary<string, Tensor> Tensors, JsonObject State) Load(string folder)
    {
        string json = Path.Combine(folder, StateJson);
        if (!File.Exists(json)) throw new InvalidDataException($"{folder}: checkpoint lacks {StateJson}");
        var state = JsonNode.Parse(File.ReadAllText(json)) as JsonObject ?? throw new InvalidDataException($"{json}: not a JSON object");
        return (StateDictFile.ReadSafetensors(Path.Combine(folder, StateWeights)), state);
    }

    IEnumerable<(int Step, string Folder)> Complete()
    {
        if (!Directory.Exists(Folder)) yield break;
        foreach (string dir in Directory.GetDirectories(Folder, Prefix + "*"))
        {
            string name = Path.GetFileName(dir);
            if (name.EndsWith(PartialSuffix, StringComparison.Ordinal)) continue;
            if (int.TryParse(name.AsSpan(Prefix.Length), NumberStyles.None, CultureInfo.InvariantCulture, out int step)
                && File.Exists(Path.Combine(dir, StateJson)))
                yield return (step, dir);
        }
    }
}
