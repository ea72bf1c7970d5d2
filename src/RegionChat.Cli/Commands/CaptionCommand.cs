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
/// <see cref="RegionChatModel"/>, streaming the answer to stdout. Only the answer goes to stdout; the load, encode and
/// generation timings go to stderr (llama.cpp's own log is captured by the engine, never printed). Greedy by default,
/// with the same sampling defaults as the server, so it answers exactly as `regionchat chat` would.
/// </summary>
internal static class CaptionCommand
{
    public static Command Create()
    {
        var modelDir = new Option<DirectoryInfo>("--model") { Description = "Model folder (holding model.json).", Required = true };
        var regionArgs = new RegionArguments();
        regionArgs.Image.Required = true;
        var question = new Option<string?>("--question") { Description = "The question; default: the model's caption instruction." };
        var maxTokens = new Option<int>("--max-tokens") { Description = "Most tokens in the answer.", DefaultValueFactory = _ => 256 };
        var temperature = new Option<float>("--temperature") { Description = "Sampling temperature; 0 (the default) is greedy.", DefaultValueFactory = _ => 0f };
        var seed = new Option<int?>("--seed") { Description = "Sampling seed." };
        var threads = new Option<int>("--threads") { Description = "CPU threads for llama.cpp and TorchSharp.", DefaultValueFactory = _ => Environment.ProcessorCount };
        var context = new Option<int>("--context") { Description = "LLM context size in tokens.", DefaultValueFactory = _ => 4096 };

        var command = new Command("caption", "Answer about a region of an image in-process (no server); the answer streams to stdout.");
        command.Options.Add(modelDir);
        regionArgs.AddTo(command);
        foreach (var o in new Option[] { question, maxTokens, temperature, seed, threads, context }) command.Options.Add(o);
        command.SetAction(async (parse, ct) =>
        {
            var output = parse.InvocationConfiguration.Output;
            var error = parse.InvocationConfiguration.Error;
            var c = CultureInfo.InvariantCulture;
            try
            {
                var region = regionArgs.ParseRegion(parse);
                string imagePath = parse.GetValue(regionArgs.Image)!.FullName;
                if (!File.Exists(imagePath)) throw new ArgumentException($"--image: file '{imagePath}' not found");
                var sampling = ServerDefaults(parse.GetValue(maxTokens), parse.GetValue(temperature), parse.GetValue(seed));

                var clock = Stopwatch.StartNew();
                using var model = RegionChatModel.Load(parse.GetValue(modelDir)!.FullName, new RegionChatModelOptions
                {
                    Threads = Math.Max(1, parse.GetValue(threads)),
                    ContextSize = parse.GetValue(context),
                    MaxSequences = 1,
                });
                error.WriteLine(string.Create(c, $"loaded {model.Id} in {clock.Elapsed.TotalMilliseconds:F0} ms ({model.VisualTokenCount} visual tokens, LLM width {model.Llm.Facts.EmbeddingWidth})"));

                clock.Restart();
                using var image = ImageLoader.Load(imagePath);
                var visual = model.Encode(image, region);
                double encodeMs = clock.Elapsed.TotalMilliseconds;

                using var chat = model.StartChat();
                string text = parse.GetValue(question) is { Length: > 0 } q ? q : model.Manifest.DefaultInstruction;
                double ttft = 0;
                bool wrote = false;
                clock.Restart();
                await foreach (var e in chat.GenerateAsync(ChatMessage.User(text, visual.Block), model.WithModelStops(sampling), ct).ConfigureAwait(false))
                {
                    switch (e)
                    {
                        case TextPiece p:
                            if (!wrote) ttft = clock.Elapsed.TotalMilliseconds;
                            wrote = true;
                            output.Write(p.Text);
                            output.Flush();
                            break;
                        case GenerationFinished f:
                            if (wrote) output.WriteLine();
                            output.Flush();
                            error.WriteLine(string.Create(c,
                                $"prompt {f.Usage.PromptTokens} tokens (visual {visual.Count}) · {f.Usage.CompletionTokens} tokens, finish {f.Reason.ToString().ToLowerInvariant()} · " +
                                $"image+vision {encodeMs:F1} ms · prefill {f.Timings.PrefillMs:F1} ms · ttft {encodeMs + ttft:F1} ms · decode {f.Timings.DecodeTokensPerSecond:F1} tok/s"));
                            if (f.Reason == FinishReason.Cancelled)
                            {
                                error.WriteLine("error: cancelled");
                                return 1;
                            }
                            break;
                    }
                }
                return 0;
            }
            catch (Exception e) when (e is ArgumentException or InvalidRegionException or InvalidImageException or ModelManifestException or LlmEngineException or IOException)
            {
                error.WriteLine($"error: {e.Message}");
                return e is ArgumentException or InvalidRegionException ? 2 : 1;
            }
        });
        return command;
    }

    /// <summary>Sampling with the server's defaults for unset fields (greedy, no top-k/top-p/min-p, no repeat penalty),
    /// so an in-process answer and a server answer to the same prompt are the same tokens.</summary>
    internal static SamplingParams ServerDefaults(int maxTokens, float temperature = 0f, int? seed = null) => new()
    {
        Temperature = temperature, TopK = 0, TopP = 1f, MinP = 0f, RepeatPenalty = 1f, RepeatLastN = 64, Seed = seed,
        MaxTokens = maxTokens,
    };
}
