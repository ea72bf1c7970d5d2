using System.CommandLine;
using RegionChat.Cli.Commands;

// regionchat <verb> …: each verb group lives in Commands/<Group>Commands.cs.
var root = new RootCommand("RegionChat: region-level multimodal chat (Alpha-CLIP + LLaVA on llama.cpp).");
foreach (var command in CommandCatalog.All()) root.Subcommands.Add(command);
return await root.Parse(args).InvokeAsync();
