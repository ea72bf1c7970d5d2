using System.CommandLine;
using System.Diagnostics;
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

    /// <summary>How to start the built regionchat.dll as a child process with <paramref name="args"/>, both pipes
    /// redirected (the caller drains them).</summary>
    public static ProcessStartInfo ChildProcessStart(params string[] args)
    {
        string dll = Path.Combine(AppContext.BaseDirectory, "regionchat.dll");
        Assert.True(File.Exists(dll), $"{dll} is missing");
        var start = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host ? host : "dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(dll);
        foreach (var a in args) start.ArgumentList.Add(a);
        return start;
    }
}
