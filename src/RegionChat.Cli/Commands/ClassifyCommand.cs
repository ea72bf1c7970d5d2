using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using RegionChat.Client;
using RegionChat.Data.Regions;
using RegionChat.Inference;
using RegionChat.Vision.Imaging;
using RegionChat.Vision.Regions;

namespace RegionChat.Cli.Commands;

/// <summary>
/// `regionchat classify --image FILE [region] --labels "a,b,c" | --labels-file F | --label-set ID [--top K] [--json]`:
/// zero-shot region classification over the labels, through a server (<c>--server</c>, gRPC Classify; --label-set names
/// one of its stored sets) or in-process (<c>--model DIR</c>, the same core). Prints per label "probability  logit
/// label", best first; with --json one JSON object.
/// </summary>
internal static class ClassifyCommand
{
    public static Command Create()
    {
        var server = new ServerArguments();
        var modelDir = new Option<DirectoryInfo?>("--model") { Description = "Classify in-process with this model folder instead of a server." };
        var modelId = new Option<string?>("--model-id") { Description = "With a server: the model id (default: the server's default)." };
        var regionArgs = new RegionArguments();
        regionArgs.Image.Required = true;
        var labels = new Option<string?>("--labels") { Description = "Comma-separated labels, e.g. \"cat,dog,traffic light\"." };
        var labelsFile = new Option<FileInfo?>("--labels-file")
        {
            Description = "A file with one label per line (blank lines and lines starting with # skipped).",
        };
        var labelSet = new Option<string?>("--label-set") { Description = "With a server: one of its stored label sets (RegionChat:LabelSets:<id>; " +
            "`regionchat models` lists them) instead of --labels." };
        var top = new Option<int>("--top") { Description = "Labels to print, best first (0 = all).", DefaultValueFactory = _ => 5 };
        var json = new Option<bool>("--json") { Description = "Print one JSON object {model, labels: [{label, p, logit}]} instead of a table." };
        var threads = new Option<int>("--threads") { Description = "In-process: CPU threads.", DefaultValueFactory = _ => Environment.ProcessorCount };

        var command = new Command("classify", "Zero-shot classify a region of an image over text labels (the model's classifier), via a server or in-process.");
        server.AddTo(command);
        command.Options.Add(modelDir);
        command.Options.Add(modelId);
        regionArgs.AddTo(command);
        foreach (var o in new Option[] { labels, labelsFile, labelSet, top, json, threads }) command.Options.Add(o);
        command.SetAction(async (parse, ct) =>
        {
            var output = parse.InvocationConfiguration.Output;
            var error = parse.InvocationConfiguration.Error;
            try
            {
                string? setId = parse.GetValue(labelSet);
                if (setId != null && parse.GetValue(modelDir) != null)
                    throw new ArgumentException("--label-set names a server's stored label set: use it with --server, not --model");
                var labelList = Labels(parse.GetValue(labels), parse.GetValue(labelsFile), setId);
                int k = parse.GetValue(top);
                if (k < 0) throw new ArgumentException($"--top must be 0 (all) or positive, got {k}");
                var region = regionArgs.ParseRegion(parse);
                string imagePath = parse.GetValue(regionArgs.Image)!.FullName;
                if (!File.Exists(imagePath)) throw new ArgumentException($"--image: file '{imagePath}' not found");
                (string Model, IReadOnlyList<(string Label, double P, double Logit)> Ranked) result;
                if (parse.GetValue(modelDir) is { } dir)
                {
                    using var core = RegionChatCore.ForModelFolder(dir.FullName, new RegionChatCoreOptions
                    {
                        Threads = Math.Max(1, parse.GetValue(threads)), ParallelSequences = 1, VisualCacheBytes = 0,
                    });
                    var r = await core.ClassifyAsync(new ClassifyRequest
                    {
                        Image = ImageInput.FromBytes(await File.ReadAllBytesAsync(imagePath, ct).ConfigureAwait(false)),
                        Regions = region == null ? [] : [RegionSource.Of(Region.From(region))],
                        Labels = labelList, Top = k,
                    }, ct).ConfigureAwait(false);
                    result = (r.Model, r.Regions[0].Labels.Select(l => (l.Label, l.Probability, l.Logit)).ToArray());
                }
                else
                {
                    using var client = server.Connect(parse);
                    var request = new RegionChat.Protos.V1.ClassifyRequest
                    {
                        Model = parse.GetValue(modelId) ?? "", Image = await ServerArguments.ImageInputAsync(client, imagePath, ct).ConfigureAwait(false),
                        Top = (uint)k, LabelSet = setId ?? "",
                    };
                    if (region != null) request.Regions.Add(ImageRegion.From(region).ToProto());
                    request.Labels.AddRange(labelList);
                    var r = await client.ClassifyAsync(request, ct).ConfigureAwait(false);
                    result = (r.Model, r.Regions[0].Labels.Select(l => (l.Label, l.Probability, l.Logit)).ToArray());
                }
                Print(output, result.Model, result.Ranked, parse.GetValue(json));
                return 0;
            }
            catch (RegionChatException e)
            {
                error.WriteLine(ServerArguments.ErrorLine(e));
                return 1;
            }
            catch (RegionChatCoreException e)
            {
                error.WriteLine($"error: {e.Kind}: {e.Message}");
                return e.Kind == RegionChatErrorKind.InvalidArgument ? 2 : 1;
            }
            catch (Exception e) when (e is ArgumentException or InvalidRegionException or InvalidImageException or ModelManifestException
                                          or IOException or InvalidDataException)
            {
                error.WriteLine(CliErrors.Line(e));
                return e is ArgumentException or InvalidRegionException ? 2 : 1;
            }
        });
        return command;
    }

    static string[] Labels(string? inline, FileInfo? file, string? labelSet)
    {
        if ((inline != null ? 1 : 0) + (file != null ? 1 : 0) + (labelSet != null ? 1 : 0) != 1)
            throw new ArgumentException("give the labels with --labels \"a,b,c\", --labels-file FILE or --label-set ID (one of them)");
        if (labelSet != null) return [];
        if (inline != null) return inline.Split(',', StringSplitOptions.TrimEntries).ToArray();
        if (!file!.Exists) throw new ArgumentException($"--labels-file: file '{file.FullName}' not found");
        return LabelSets.ReadFile(file.FullName);
    }

    static void Print(TextWriter output, string model, IReadOnlyList<(string Label, double P, double Logit)> ranked, bool json)
    {
        if (json)
        {
            output.WriteLine(JsonSerializer.Serialize(new
            {
                model,
                labels = ranked.Select(l => new { label = l.Label, p = Math.Round(l.P, 6), logit = Math.Round(l.Logit, 4) }),
            }));
            return;
        }
        foreach (var (label, p, logit) in ranked)
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{p,8:F4}  {logit,8:F3}  {label}"));
    }
}
