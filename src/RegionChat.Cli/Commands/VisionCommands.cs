using System.CommandLine;

namespace RegionChat.Cli.Commands;

/// <summary>`regionchat vision …`: the vision side (preprocessing, encoding) on its own.</summary>
internal static class VisionCommands
{
    public static Command Create()
    {
        var command = new Command("vision", "Alpha-CLIP vision tools: preprocess images and regions.");
        command.Subcommands.Add(VisionPreprocessCommand.Create());
        return command;
    }
}
