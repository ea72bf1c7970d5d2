using System.CommandLine;

namespace RegionChat.Cli.Commands;

/// <summary>`regionchat llm …`: the llama.cpp side (GGUF files, engines). One line per subcommand.</summary>
internal static class LlmCommands
{
    public static Command Create()
    {
        var llm = new Command("llm", "Language-model tools: GGUF files and llama.cpp engines.");
        llm.Subcommands.Add(LlmInfoCommand.Create());
        llm.Subcommands.Add(LlmSynthCommand.Create());
        return llm;
    }
}
