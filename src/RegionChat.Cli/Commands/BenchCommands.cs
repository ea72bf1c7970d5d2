using System.CommandLine;

namespace RegionChat.Cli.Commands;

/// <summary>`regionchat bench …`: speed measurements, reported as ratios measured side by side in one run.</summary>
internal static class BenchCommands
{
    public static Command Create()
    {
        var command = new Command("bench", "Measure speed on this machine.");
        command.Subcommands.Add(BenchVisionCommand.Create());
        command.Subcommands.Add(BenchLlmCommand.Create());
        command.Subcommands.Add(BenchServerCommand.Create());
        command.Subcommands.Add(BenchPeerCommand.Create());
        command.Subcommands.Add(BenchBatchCommand.Create());
        command.Subcommands.Add(BenchBudgetCommand.Create());
        command.Subcommands.Add(BenchSlowUploadCommand.Create());
        command.Subcommands.Add(BenchSoakCommand.Create());
        return command;
    }
}
