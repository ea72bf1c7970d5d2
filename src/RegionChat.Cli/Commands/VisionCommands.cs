using System.CommandLine;

namespace RegionChat.Cli.Commands;

/// <summary>`regionchat vision …`: the vision side on its own (preprocessing, the Alpha-CLIP encoder and projector).</summary>
internal static class VisionCommands
{
    public static Command Create()
    {
        var command = new Command("vision",
            "Alpha-CLIP vision tools: preprocess images and regions, encode with the ViT and projector, zero-shot classify with the text tower.");
        command.Subcommands.Add(VisionPreprocessCommand.Create());
        command.Subcommands.Add(VisionEncodeCommand.Create());
        command.Subcommands.Add(VisionClassifyCommand.Create());
        return command;
    }

    /// <summary>Runs a verb body; expected failures (bad input, unreadable files) become one stderr line and exit code 1.</summary>
    internal static int Guard(Func<int> body)
    {
        try
        {
            return body();
        }
        catch (Exception e) when (e is ArgumentException or InvalidDataException or IOException or UnauthorizedAccessException)
        {
            Console.Error.WriteLine($"error: {e.Message}");
            return 1;
        }
    }
}
