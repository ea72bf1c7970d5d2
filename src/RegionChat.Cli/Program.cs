using System.CommandLine;
using RegionChat.Cli.Commands;

// regionchat <verb> …: each verb group lives in Commands/<Group>Commands.cs.
var root = new RootCommand("RegionChat: region-level multimodal chat (Alpha-CLIP + LLaVA on llama.cpp).");
foreach (var command in CommandCatalog.All()) root.Subcommands.Add(command);
var parse = root.Parse(args);
try
{
    // SIGINT / SIGTERM cancel the verb's token; it gets 10 s to stop cleanly (caption-batch prints its summary and the
    // rerun hint) before the process ends anyway (with System.CommandLine's default it ended at once, exit 130/143).
    // `serve` handles the signals itself: the server drains for RegionChat:ShutdownDrainSeconds, which may be longer.
    bool serve = parse.CommandResult.Command.Name == "serve";
    return await parse.InvokeAsync(new InvocationConfiguration
    {
        EnableDefaultExceptionHandler = false,
        ProcessTerminationTimeout = serve ? null : TimeSpan.FromSeconds(10),
    });
}
catch (Exception e) when (e is not OperationCanceledException)
{
    // A failure no verb turned into its own error line: one line, never a stack trace (REGIONCHAT_TRACE=1 shows it).
    Console.Error.WriteLine(Environment.GetEnvironmentVariable("REGIONCHAT_TRACE") == "1" ? e.ToString() : CliErrors.Line(e));
    return 1;
}
