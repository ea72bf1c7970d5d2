using System.CommandLine;

namespace RegionChat.Cli.Commands;

/// <summary>`regionchat bench …`: speed measurements (other groups add their own subcommands).</summary>
internal static class BenchCommands
{
    public static Command Create()
    {
        var command = new Command("bench", "Measure speed on this machine.");
        command.Subcommands.Add(BenchVisionCommand.Create());
        command.Subcommands.Add(BenchLlmCommand.Create());
        return command;
    }
}
