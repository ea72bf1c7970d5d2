using System.CommandLine;
using RegionChat.Cli.Commands;

namespace RegionChat.Cli.Tests;

/// <summary>Runs regionchat verbs in-process as the executable registers them, capturing stdout and stderr per call
/// (InvocationConfiguration, so parallel test classes never share the console).</summary>
internal static class CliRunner
{
    public static async Task<(int Exit, string Out, string Err)> RunAsync(TextReader? stdin, params string[] args)
    {
        var root = new RootCommand();
        foreach (var command in CommandCatalog.All())
            root.Subcommands.Add(stdin != null && command.Name == "chat" ? ChatCommand.Create(stdin) : command);
        var output = new StringWriter();
        var error = new StringWriter();
        int exit = await root.Parse(args).InvokeAsync(new InvocationConfiguration { Output = output, Error = error });
        return (exit, output.ToString(), error.ToString());
    }

    public static Task<(int Exit, string Out, string Err)> RunAsync(params string[] args) => RunAsync(null, args);
}
