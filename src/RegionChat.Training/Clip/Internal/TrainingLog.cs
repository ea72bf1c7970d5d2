using System.Text;
using System.Text.Json.Nodes;

namespace RegionChat.Training.Clip.Internal;

/// <summary>
/// log.jsonl: one {"type":"step",…} line per optimizer step and one {"type":"eval",…} line per evaluation. On resume
/// the lines after the checkpoint's step are dropped (those steps run again).
/// </summary>
internal sealed class TrainingLog : IDisposable
{
    public const string FileName = "log.jsonl";
    readonly StreamWriter writer;

    public TrainingLog(string runFolder, int keepThroughStep)
    {
        string path = Path.Combine(runFolder, FileName);
        if (File.Exists(path))
        {
            var kept = File.ReadLines(path).Where(line => StepOf(line) is { } s && s <= keepThroughStep).ToList();
            File.WriteAllLines(path, kept);
        }
        writer = new StreamWriter(path, append: true, new UTF8Encoding(false)) { AutoFlush = true };
    }

    public void Write(JsonObject entry) => writer.WriteLine(entry.ToJsonString());

    public void Dispose() => writer.Dispose();

    static int? StepOf(string line)
    {
        try
        {
            return JsonNode.Parse(line)?["step"]?.GetValue<int>();
        }
        catch (Exception e) when (e is System.Text.Json.JsonException or InvalidOperationException or FormatException)
        {
            return null;   // a torn last line of a killed run
        }
    }
}
