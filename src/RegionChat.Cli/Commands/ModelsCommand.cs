using System.CommandLine;
using Google.Protobuf;
using RegionChat.Client;
using PbV1 = RegionChat.Protos.V1;

namespace RegionChat.Cli.Commands;

/// <summary>`regionchat models --server URL [--json]`: what a server serves, the default marked.</summary>
internal static class ModelsCommand
{
    public static Command Create()
    {
        var server = new ServerArguments();
        var json = new Option<bool>("--json") { Description = "Print the ListModels response as JSON." };
        var command = new Command("models", "List the models a RegionChat server serves.");
        server.AddTo(command);
        command.Options.Add(json);
        command.SetAction(async (parse, ct) =>
        {
            var output = parse.InvocationConfiguration.Output;
            var error = parse.InvocationConfiguration.Error;
            try
            {
                using var client = server.Connect(parse);
                var response = await client.ListModelsAsync(ct).ConfigureAwait(false);
                if (parse.GetValue(json)) output.WriteLine(JsonFormatter.Default.Format(response));
                else Print(response, output);
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
        });
        return command;
    }

    static void Print(PbV1.ListModelsResponse response, TextWriter output)
    {
        if (response.Models.Count == 0) output.WriteLine("(no models)");
        foreach (var m in response.Models)
        {
            output.WriteLine(m.Id == response.DefaultModel ? $"{m.Id} (default)" : m.Id);
            if (m.State is "not_loaded" or "failed")
            {
                output.WriteLine(m.State == "failed" ? $"  failed to load: {m.LoadError}" : "  not loaded yet (it loads on its first request)");
                continue;
            }
            var v = m.Vision ?? new PbV1.VisionInfo();
            var p = m.Projector ?? new PbV1.ProjectorInfo();
            var l = m.Llm ?? new PbV1.LlmInfo();
            output.WriteLine($"  vision     Alpha-CLIP {v.ImageSize} px, patch {v.PatchSize}, width {v.Width}, {v.Layers} layers, feature " +
                $"layer {v.FeatureLayer}, preprocess {v.Preprocess}");
            output.WriteLine($"  projector  {p.Type} {p.InputWidth} → {p.OutputWidth}, {p.VisualTokens} visual tokens per image");
            output.WriteLine($"  llm        {l.Architecture}, width {l.EmbeddingLength}, {l.Layers} layers, vocab {l.VocabSize}, trained " +
                $"context {l.TrainContextLength}");
            output.WriteLine($"  serving    context {m.ContextSize} tokens, template {m.Template}");
        }
        // The stored label sets `classify --label-set` may name, with their size and first labels.
        foreach (var set in response.LabelSets)
            output.WriteLine($"label set {set.Id}: {set.Labels.Count} labels ({string.Join(", ", set.Labels.Take(5))}" +
                             (set.Labels.Count > 5 ? ", …)" : ")"));
    }
}
