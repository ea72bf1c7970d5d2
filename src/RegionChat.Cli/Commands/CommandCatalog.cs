using System.CommandLine;

namespace RegionChat.Cli.Commands;

/// <summary>Every top-level verb of the CLI.</summary>
internal static class CommandCatalog
{
    public static IEnumerable<Command> All()
    {
        yield return DoctorCommand.Create();
        yield return ShapesCommands.Create();
        yield return EvalCommands.Create();
        yield return LlmCommands.Create();
        yield return VisionCommands.Create();
        yield return BenchCommands.Create();
        yield return ChatCommand.Create();
        yield return ModelsCommand.Create();
        yield return CaptionCommand.Create();
        yield return ClassifyCommand.Create();
        yield return CaptionBatchCommand.Create();
        yield return TrainCommands.Create();
        yield return PullCommand.Create();
        yield return ServeCommand.Create();
    }
}
