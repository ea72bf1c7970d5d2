using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace RegionChat.CaptionBatch.Internal;

/// <summary>
/// The options that shape a job's records, kept beside its output (<c>OUTPUT.job.json</c>): a rerun that resumes the
/// output with other ones would mix two kinds of answers in one file (captions of another instruction or length, labels of
/// another list), and one that leaves out the first run's <c>--errors</c> would redo its failed items into the output.
/// </summary>
internal sealed record JobSettings
{
    public string Task { get; init; } = "";
    public string? Instruction { get; init; }
    public int MaxTokens { get; init; }
    public bool Logprobs { get; init; }
    public string RegionFrom { get; init; } = "";
    public string? LabelsSha256 { get; init; }
    public int Top { get; init; }
    public string? Errors { get; init; }
    /// <summary>The answers' format: "json", "json-schema SHA256", "choices SHA256" or "regex SHA256"; null for free text.</summary>
    public string? Format { get; init; }

    static readonly JsonSerializerOptions Json = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower, WriteIndented = true };

    public static string PathFor(string output) => output + ".job.json";

    public static JobSettings Of(CaptionBatchOptions o, string? errorsPath) => new()
    {
        Task = o.TaskKind.ToString().ToLowerInvariant(),
        Instruction = o.TaskKind == CaptionBatchTask.Caption ? o.Instruction : null,
        MaxTokens = o.TaskKind == CaptionBatchTask.Caption ? o.MaxTokens : 0,
        Logprobs = o.Logprobs,
        RegionFrom = o.RegionFrom.ToString().ToLowerInvariant(),
        LabelsSha256 = o.Labels.Count == 0 ? null : Sha256(string.Join('\n', o.Labels)),
        Top = o.TaskKind == CaptionBatchTask.Classify ? o.Top : 0,
        Errors = errorsPath,
        Format = o.Json ? "json"
            : o.JsonSchema != null ? "json-schema " + Sha256(o.JsonSchema)
            : o.Choices.Count > 0 ? "choices " + Sha256(string.Join('\n', o.Choices))
            : o.Regex != null ? "regex " + Sha256(o.Regex) : null,
    };

    static string Sha256(string text) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)));

    /// <summary>Compares this run's settings with those an earlier run of <paramref name="output"/> kept (when the output
    /// holds records) and throws naming each difference; then keeps this run's.</summary>
    /// <exception cref="ArgumentException">The output was written with other settings.</exception>
    public void CheckAndKeep(string output)
    {
        string path = PathFor(output);
        bool resuming = File.Exists(output) && new FileInfo(output).Length > 0;
        if (resuming && File.Exists(path))
        {
            JobSettings? before;
            try { before = JsonSerializer.Deserialize<JobSettings>(File.ReadAllText(path), Json); }
            catch (JsonException) { before = null; } // damaged: this run's replace it
            if (before != null && Differences(before).ToList() is { Count: > 0 } differences)
                throw new ArgumentException($"--output {output} was written with other options ({string.Join("; ", differences)}; kept in " +
                    $"{path}): resume it with the same options, or give this job its own --output");
        }
        string temp = path + ".tmp";
        File.WriteAllText(temp, JsonSerializer.Serialize(this, Json));
        File.Move(temp, path, overwrite: true);
    }

    static string FormatText(string? format) => format switch
    {
        null => "free text",
        "json" => "--json",
        _ when format.StartsWith("regex ", StringComparison.Ordinal) => $"--regex (a pattern of SHA-256 {format.Split(' ')[1][..12]}…)",
        _ => $"--{format.Split(' ')[0]} (a file of SHA-256 {format.Split(' ')[1][..12]}…)",
    };

    IEnumerable<string> Differences(JobSettings before)
    {
        static string Text(string? s) => s == null ? "none" : $"'{s}'";
        if (before.Task != Task) yield return $"--task {before.Task}, now {Task}";
        if (before.Instruction != Instruction) yield return $"--instruction {Text(before.Instruction)}, now {Text(Instruction)}";
        if (before.MaxTokens != MaxTokens) yield return string.Create(CultureInfo.InvariantCulture, $"--max-tokens {before.MaxTokens}, now {MaxTokens}");
        if (before.Logprobs != Logprobs) yield return $"--logprobs {(before.Logprobs ? "on" : "off")}, now {(Logprobs ? "on" : "off")}";
        if (before.RegionFrom != RegionFrom) yield return $"--region-from {before.RegionFrom}, now {RegionFrom}";
        if (before.LabelsSha256 != LabelsSha256) yield return "another list of labels";
        if (before.Top != Top) yield return string.Create(CultureInfo.InvariantCulture, $"--top {before.Top}, now {Top}");
        if (before.Errors != Errors) yield return $"--errors {Text(before.Errors)}, now {Text(Errors)}";
        if (before.Format != Format) yield return $"answer format {FormatText(before.Format)}, now {FormatText(Format)}";
    }
}
