using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using RegionChat.Data.Regions;
using RegionChat.Inference;
using RegionChat.Llm.Engine;
using RegionChat.Vision.Imaging;
using RegionChat.Vision.Regions;

namespace RegionChat.Cli.Commands;

/// <summary>
/// `regionchat caption --model DIR --image FILE [region] [--question "…"]`: answers in-process (no server) with
/// <see cref="RegionChatCore"/>, streaming the answer to stdout. Only the answer goes to stdout; the load, encode and
/// generation timings go to stderr (llama.cpp's own log is captured by the engine, never printed). The turn is the
/// server's own (the same core), greedy by default, so it answers exactly as `regionchat chat` would.
/// </summary>
internal static class CaptionCommand
{
    public static Command Create()
    {
        var modelDir = new Option<DirectoryInfo>("--model") { Description = "Model folder (holding model.json).", Required = true };
        var regionArgs = new RegionArguments();
        regionArgs.Image.Required = true;
        var question = new Option<string?>("--question") { Description = "The question (or give it as the last argument, as for chat); default: the model's " +
            "caption instruction." };
        var questionArgument = new Argument<string?>("question") { Description = "The question; default: the model's caption instruction.",
            Arity = ArgumentArity.ZeroOrOne };
        var maxTokens = new Option<int>("--max-tokens") { Description = "Most tokens in the answer.", DefaultValueFactory = _ => 256 };
        var temperature = new Option<float>("--temperature") { Description = "Sampling temperature; 0 (the default) is greedy.",
            DefaultValueFactory = _ => 0f };
        var seed = new Option<int?>("--seed") { Description = "Sampling seed." };
        var threads = new Option<int>("--threads") { Description = "CPU threads for llama.cpp and TorchSharp.",
            DefaultValueFactory = _ => Environment.ProcessorCount };
        var context = new Option<int>("--context") { Description = "LLM context size in tokens.", DefaultValueFactory = _ => 4096 };
        var budget = new Option<int>("--visual-token-budget") { Description = "Visual tokens to keep per image (0: the model's setting, by default all)." };
        var json = new Option<bool>("--json") { Description = "The answer is one JSON object." };
        var jsonSchema = new Option<FileInfo?>("--json-schema") { Description = "The answer is the JSON this JSON Schema file allows." };
        var choice = new Option<string[]>("--choice") { Description = "The answer is exactly one of the choices; repeat for each (1 to 256)." };
        var regex = new Option<string?>("--regex") { Description = "The answer is text this regular expression matches whole." };

        var command = new Command("caption", "Answer about a region of an image in-process (no server); the answer streams to stdout.");
        command.Options.Add(modelDir);
        regionArgs.AddTo(command);
        foreach (var o in new Option[] { question, maxTokens, temperature, seed, threads, context, budget, json, jsonSchema, choice, regex })
            command.Options.Add(o);
        command.Arguments.Add(questionArgument);
        command.SetAction(async (parse, ct) =>
        {
            var output = parse.InvocationConfiguration.Output;
            var error = parse.InvocationConfiguration.Error;
            var c = CultureInfo.InvariantCulture;
            try
            {
                if (parse.GetValue(question) != null && parse.GetValue(questionArgument) != null)
                    throw new ArgumentException("give the question once: as the last argument or with --question, not both");
                string text = parse.GetValue(questionArgument) ?? parse.GetValue(question) ?? "";
                var region = regionArgs.ParseRegion(parse);
                string imagePath = parse.GetValue(regionArgs.Image)!.FullName;
                if (!File.Exists(imagePath)) throw new ArgumentException($"--image: file '{imagePath}' not found");
                int max = parse.GetValue(maxTokens);
                var format = Format(parse.GetValue(json), parse.GetValue(jsonSchema), parse.GetValue(choice) ?? [], parse.GetValue(regex));

                var clock = Stopwatch.StartNew();
                using var core = RegionChatCore.ForModelFolder(parse.GetValue(modelDir)!.FullName, new RegionChatCoreOptions
                {
                    Threads = Math.Max(1, parse.GetValue(threads)),
                    ContextSize = parse.GetValue(context),
                    ParallelSequences = 1,
                    VisualCacheBytes = 0,
                    MaxTokensLimit = Math.Max(max, 4096),
                });
                var model = core.LoadDefaultModel();
                error.WriteLine(string.Create(c,
                    $"loaded {model.Id} in {clock.Elapsed.TotalMilliseconds:F0} ms ({model.VisualTokens} visual tokens, LLM width {model.EmbeddingLength})"));

                var image = new TurnImage(ImageInput.FromBytes(File.ReadAllBytes(imagePath)),
                    region == null ? RegionSource.WholeImage : RegionSource.Of(Region.From(region)));
                var turn = new TurnRequest
                {
                    Messages = [TurnMessage.User(text, image)],
                    VisualTokenBudget = parse.GetValue(budget) is int b and not 0 ? b : null,
                    Sampling = new SamplingOptions { MaxTokens = max, Temperature = parse.GetValue(temperature),
                        Seed = parse.GetValue(seed) is { } s ? unchecked((ulong)s) : null, Format = format },
                };
                bool wrote = false;
                await foreach (var e in core.RunTurnAsync(turn, ct).ConfigureAwait(false))
                {
                    switch (e)
                    {
                        case TurnText p:
                            wrote = true;
                            output.Write(p.Text);
                            output.Flush();
                            break;
                        case TurnFinished f:
                            if (wrote) output.WriteLine();
                            output.Flush();
                            var t = f.Timings;
                            error.WriteLine(string.Create(c,
                                $"prompt {f.Usage.PromptTokens} tokens (visual {f.Usage.VisualTokens}) · {f.Usage.CompletionTokens} tokens, " +
                                $"finish {f.Reason.ToString().ToLowerInvariant()} · " +
                                $"image+vision {t.ImageDecodeMs + t.VisionEncodeMs:F1} ms · prefill {t.PrefillMs:F1} ms · ttft {t.TimeToFirstTokenMs:F1} ms " +
                                $"· decode {t.DecodeTokensPerSecond:F1} tok/s"));
                            if (f.Reason == TurnFinishReason.Cancelled)
                            {
                                error.WriteLine("error: cancelled");
                                return 1;
                            }
                            break;
                    }
                }
                return 0;
            }
            catch (RegionChatCoreException e)
            {
                // The image, the region or the prompt was refused: the vision and engine's own words, as before the core.
                error.WriteLine($"error: {e.InnerException?.Message ?? e.Message}");
                return e.InnerException is InvalidRegionException or ArgumentException ? 2 : 1;
            }
            catch (Exception e) when (e is ArgumentException or InvalidRegionException or InvalidImageException or ModelManifestException
                                          or LlmEngineException or IOException or InvalidDataException)
            {
                error.WriteLine(CliErrors.Line(e));
                return e is ArgumentException or InvalidRegionException ? 2 : 1;
            }
        });
        return command;
    }

    /// <summary>The answer's shape from --json, --json-schema, --choice or --regex (at most one), checked as the core would.</summary>
    static AnswerFormat? Format(bool json, FileInfo? schema, string[] choices, string? regex)
    {
        if ((json ? 1 : 0) + (schema != null ? 1 : 0) + (choices.Length > 0 ? 1 : 0) + (regex != null ? 1 : 0) > 1)
            throw new ArgumentException("give one of --json, --json-schema, --choice and --regex");
        var format = json ? AnswerFormat.JsonObject
            : schema != null ? AnswerFormat.JsonSchema(CliOptions.SmallFile(schema, "--json-schema"))
            : regex != null ? AnswerFormat.Regex(regex)
            : choices.Length > 0 ? AnswerFormat.Choice(choices) : null;
        if (format?.Problem() is { } problem)
            throw new ArgumentException($"{(json ? "--json" : schema != null ? "--json-schema" : regex != null ? "--regex" : "--choice")}: {problem}");
        return format;
    }
}
