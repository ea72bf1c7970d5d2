using System.CommandLine;
using RegionChat.Llm.Gguf;

namespace RegionChat.Cli.Commands;

/// <summary>`regionchat llm info FILE.gguf`: metadata summary of a GGUF file.</summary>
internal static class LlmInfoCommand
{
    public static Command Create()
    {
        var file = new Argument<FileInfo>("file") { Description = "A GGUF file (llama model or mmproj)." };
        var command = new Command("info", "Print a summary of a GGUF file: architecture, dimensions, vocabulary, tensor types.");
        command.Arguments.Add(file);
        command.SetAction(parseResult =>
        {
            var path = parseResult.GetValue(file)!;
            if (!path.Exists)
            {
                Console.Error.WriteLine($"error: file not found: {path.FullName}");
                return 1;
            }
            try
            {
                using var gguf = GgufFile.Open(path.FullName);
                var lines = GgufSummary.Describe(gguf);
                int width = lines.Max(l => l.Label.Length) + 2;
                foreach (var (label, value) in lines) Console.WriteLine((label + ":").PadRight(width) + value);
                return 0;
            }
            catch (GgufFormatException e)
            {
                Console.Error.WriteLine($"error: {e.Message}");
                return 2;
            }
        });
        return command;
    }
}
