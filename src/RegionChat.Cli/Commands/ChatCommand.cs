using System.CommandLine;
using RegionChat.Client;
using RegionChat.Data.Regions;
using RegionChat.Vision.Imaging;
using PbV1 = RegionChat.Protos.V1;

namespace RegionChat.Cli.Commands;

/// <summary>
/// `regionchat chat --server URL [--image FILE] [region] [--session ID] "question"`: one turn against a server, the
/// answer streamed to stdout. Without a question: an interactive chat reading lines from stdin (see <see cref="InteractiveChat"/>).
/// Exit codes: 0 ok, 1 a call failed (the error line names the gRPC status), 2 bad arguments.
/// </summary>
internal static class ChatCommand
{
    /// <param name="input">Where interactive lines come from; null = the console's stdin.</param>
    public static Command Create(TextReader? input = null)
    {
        var server = new ServerArguments();
        var regionArgs = new RegionArguments();
        var session = new Option<string?>("--session") { Description = "Continue this session (its id is printed on stderr after every turn)." };
        var model = new Option<string?>("--model") { Description = "Model id (see `regionchat models`); default: the server's default model." };
        var maxTokens = new Option<int>("--max-tokens") { Description = "Most tokens per answer; 0 = the server's default.", DefaultValueFactory = _ => 0 };
        var temperature = new Option<float?>("--temperature") { Description = "Sampling temperature; 0 (the default) is greedy." };
        var seed = new Option<ulong?>("--seed") { Description = "Sampling seed (same seed, prompt and parameters: same answer)." };
        var system = new Option<string?>("--system") { Description = "System prompt for a new session (default: the model's)." };
        var json = new Option<bool>("--json") { Description = "Every answer is one JSON object." };
        var jsonSchema = new Option<FileInfo?>("--json-schema") { Description = "Every answer is the JSON this JSON Schema file allows." };
        var choice = new Option<string[]>("--choice") { Description = "Every answer is exactly one of the choices; repeat for each (1 to 256)." };
        var regex = new Option<string?>("--regex") { Description = "Every answer is text this regular expression matches whole." };
        var question = new Argument<string?>("question") { Description = "The question. Omit it for an interactive chat on stdin.",
            Arity = ArgumentArity.ZeroOrOne };

        var command = new Command("chat", "Chat with a RegionChat server about a region of an image; the answer streams to stdout.");
        server.AddTo(command);
        regionArgs.AddTo(command);
        foreach (var o in new Option[] { session, model, maxTokens, temperature, seed, system, json, jsonSchema, choice, regex })
            command.Options.Add(o);
        command.Arguments.Add(question);

        command.SetAction(async (parse, ct) =>
        {
            var output = parse.InvocationConfiguration.Output;
            var error = parse.InvocationConfiguration.Error;
            RegionChatClient client;
            ChatConversation conversation;
            RegionDescription? region;
            string? imagePath = parse.GetValue(regionArgs.Image)?.FullName;
            try
            {
                int max = parse.GetValue(maxTokens);
                if (max < 0) throw new ArgumentException($"--max-tokens must be >= 0, got {max}");
                region = regionArgs.ParseRegion(parse);
                client = server.Connect(parse);
                var settings = new ChatTurnSettings(parse.GetValue(model) ?? "", (uint)max, parse.GetValue(temperature), parse.GetValue(seed),
                    parse.GetValue(system) ?? "", Format(parse.GetValue(json), parse.GetValue(jsonSchema), parse.GetValue(choice) ?? [],
                        parse.GetValue(regex)));
                conversation = new ChatConversation(client, settings, output, error) { SessionId = parse.GetValue(session) ?? "" };
            }
            catch (Exception e) when (e is ArgumentException or InvalidRegionException or InvalidImageException)
            {
                error.WriteLine($"error: {e.Message}");
                return 2;
            }

            using (client)
            {
                if (parse.GetValue(question) is { } text)
                {
                    try
                    {
                        var image = imagePath == null ? null : await ServerArguments.ImageInputAsync(client, imagePath, ct).ConfigureAwait(false);
                        await conversation.SendAsync(text, image, region == null ? null : ImageRegion.From(region), ct).ConfigureAwait(false);
                        return 0;
                    }
                    catch (RegionChatException e)
                    {
                        error.WriteLine(ServerArguments.ErrorLine(e));
                        return 1;
                    }
                    catch (ArgumentException e)
                    {
                        error.WriteLine($"error: {e.Message}");
                        return 2;
                    }
                }
                var chat = new InteractiveChat(conversation, client, input ?? Console.In, error, showPrompt: input == null && !Console.IsInputRedirected);
                return await chat.RunAsync(imagePath, region, ct).ConfigureAwait(false);
            }
        });
        return command;
    }

    /// <summary>The answers' shape from --json, --json-schema, --choice or --regex (at most one); the server checks the rest.</summary>
    static PbV1.AnswerFormat? Format(bool json, FileInfo? schema, string[] choices, string? regex)
    {
        if ((json ? 1 : 0) + (schema != null ? 1 : 0) + (choices.Length > 0 ? 1 : 0) + (regex != null ? 1 : 0) > 1)
            throw new ArgumentException("give one of --json, --json-schema, --choice and --regex");
        var format = json ? AnswerFormat.JsonObject
            : regex != null ? AnswerFormat.Regex(regex)
            : schema != null ? AnswerFormat.JsonSchema(CliOptions.SmallFile(schema, "--json-schema"))
            : choices.Length > 0 ? AnswerFormat.Choice(choices) : null;
        return format?.ToProto();
    }
}
