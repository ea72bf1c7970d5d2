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
    const string Prefix = "step-", PartialSuffix = ".partial", ParamPrefix = "param.";

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

    /// <summary>Saves the optimizer's master weights ("param.NAME") and moments with <paramref name="state"/>, which gains
    /// the optimizer's step count as adam_steps.</summary>
    public string Save(int step, MasterWeightAdamW optimizer, JsonObject state)
    {
        state["adam_steps"] = optimizer.StepCount;
        var tensors = optimizer.MasterWeights().Select(kv => KeyValuePair.Create(ParamPrefix + kv.Key, kv.Value)).Concat(optimizer.Moments());
        return Save(step, tensors, state);
    }

    /// <summary>Restores the newest checkpoint's master weights, moments and step count into <paramref name="optimizer"/>
    /// and returns its step; null when there is none.</summary>
    public int? RestoreLatest(MasterWeightAdamW optimizer)
    {
        if (Latest() is not { } latest) return null;
        var (tensors, state) = Load(latest.Folder);
        try
        {
            var masters = tensors.Where(kv => kv.Key.StartsWith(ParamPrefix, StringComparison.Ordinal))
                .ToDictionary(kv => kv.Key[ParamPrefix.Length..], kv => kv.Value);
            optimizer.Restore(masters, tensors, state["adam_steps"]?.GetValue<long>()
                ?? throw new InvalidDataException($"{latest.Folder}: state.json lacks adam_steps"));
        }
        finally
        {
            foreach (var t in tensors.Values) t.Dispose();
        }
        return latest.Step;
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
