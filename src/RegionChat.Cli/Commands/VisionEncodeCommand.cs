using System.CommandLine;
using System.Diagnostics;
using RegionChat.Vision;
using TorchSharp;
using static TorchSharp.torch;

namespace RegionChat.Cli.Commands;

/// <summary>
/// `regionchat vision encode`: runs Alpha-CLIP (and optionally the projector) on tensors from a .safetensors file.
/// Input: <c>image</c> [B,3,R,R] (already normalised; also read as <c>pixel_values</c>, the name `vision preprocess` and
/// Hugging Face use, so the two verbs chain) and <c>alpha</c> [B,1,R,R] — or <c>mask</c> in [0,1], turned into
/// alpha = (mask − 0.5) / 0.26. Output (float32): pooled, hidden_penultimate, hidden_last, patch_features[, projected].
/// </summary>
internal static class VisionEncodeCommand
{
    public static Command Create()
    {
        var weights = new Option<string>("--weights") { Description = "Alpha-CLIP/CLIP visual checkpoint (.pth, .bin, .safetensors).", Required = true };
        var config = new Option<string?>("--config") { Description = "JSON with input_resolution, patch_size, width, layers, heads, output_dim (default: " +
            "inferred, heads = width/64)." };
        var input = new Option<string>("--input") { Description = "Input .safetensors with image (or pixel_values: `vision preprocess` output) " +
            "and alpha (or mask).", Required = true };
        var output = new Option<string>("--output") { Description = "Output .safetensors.", Required = true };
        var projector = new Option<string?>("--projector") { Description = "LLaVA projector weights (.pth, .bin, .safetensors); adds `projected`." };
        var dtype = new Option<string>("--dtype") { Description = "Compute dtype; outputs are float32.", DefaultValueFactory = _ => "fp32" };
        dtype.AcceptOnlyFromAmong("fp32", "bf16", "fp16");
        var selectLayer = new Option<int>("--select-layer") { Description = "LLaVA mm_vision_select_layer for patch_features.", DefaultValueFactory = _ => -2 };
        var threads = new Option<int?>("--threads") { Description = "Torch CPU threads (default: libtorch's choice)." };

        var command = new Command("encode", "Encode image + alpha tensors with Alpha-CLIP; write pooled, hidden states and LLaVA patch features.");
        foreach (var o in new Option[] { weights, config, input, output, projector, dtype, selectLayer, threads }) command.Options.Add(o);
        command.SetAction(parse => VisionCommands.Guard(() => Run(
            parse.GetValue(weights)!, parse.GetValue(config), parse.GetValue(input)!, parse.GetValue(output)!,
            parse.GetValue(projector), ParseDType(parse.GetValue(dtype)!), parse.GetValue(selectLayer), parse.GetValue(threads))));
        return command;
    }

    internal static ScalarType ParseDType(string name) => name switch
    {
        "fp32" => ScalarType.Float32,
        "bf16" => ScalarType.BFloat16,
        "fp16" => ScalarType.Float16,
        _ => throw new ArgumentException($"unknown dtype {name} (fp32, bf16, fp16)"),
    };

    static int Run(string weightsPath, string? configPath, string inputPath, string outputPath, string? projectorPath,
        ScalarType dtype, int selectLayer, int? threads)
    {
        if (threads is { } t)
        {
            if (t < 1) throw new ArgumentException($"--threads must be ≥ 1, got {t}");
            torch.set_num_threads(t);
        }
        var clock = Stopwatch.StartNew();
        var config = configPath is null ? null : AlphaClipConfig.FromJsonFile(configPath);
        using var model = AlphaClipVisionTransformer.Load(weightsPath, config, dtype);
        using var mmProjector = projectorPath is null ? null : LlavaProjector.Load(projectorPath, dtype);
        if (mmProjector is not null && mmProjector.InputDim != model.Config.Width)
            throw new ArgumentException($"projector input width {mmProjector.InputDim} differs from the encoder width {model.Config.Width}");
        model.ResolveLayer(selectLayer);

        using var scope = NewDisposeScope();
        var inputs = StateDictFile.Read(inputPath);
        var (image, alpha) = Inputs(inputs, inputPath);
        double loadMs = clock.Elapsed.TotalMilliseconds;

        clock.Restart();
        using var encoding = model.Encode(image, alpha);
        var outputs = new List<KeyValuePair<string, Tensor>>
        {
            new("pooled", encoding.Pooled),
            new("hidden_penultimate", encoding.Hidden(-2)),
            new("hidden_last", encoding.Hidden(-1)),
            new("patch_features", encoding.PatchFeatures(selectLayer)),
        };
        if (mmProjector is not null)
            outputs.Add(new("projected", mmProjector.WithRegionPosition(mmProjector.Project(encoding.PatchFeatures(selectLayer)), alpha)));
        double encodeMs = clock.Elapsed.TotalMilliseconds;

        StateDictFile.WriteSafetensors(outputPath, outputs);
        Console.WriteLine($"wrote {outputPath}: " + string.Join(", ", outputs.Select(o => $"{o.Key} [{string.Join(",", o.Value.shape)}]")) +
            $" (load {loadMs:F0} ms, encode {encodeMs:F0} ms, {model.Config.Width}w×{model.Config.Layers}L {dtype})");
        return 0;
    }

    /// <summary>The image and alpha of a safetensors input (`image` or `pixel_values`; `alpha`, or a 0/1 `mask`), batched;
    /// `vision classify` reads its inputs the same way.</summary>
    internal static (Tensor Image, Tensor Alpha) Inputs(Dictionary<string, Tensor> inputs, string path)
    {
        if (!inputs.TryGetValue("image", out var image) && !inputs.TryGetValue("pixel_values", out image))
            throw new InvalidDataException($"{path}: no `image` (or `pixel_values`) tensor; it holds {string.Join(", ", inputs.Keys)}");
        Tensor alpha;
        if (inputs.TryGetValue("alpha", out var a)) alpha = a;
        else if (inputs.TryGetValue("mask", out var mask))
        {
            using TorchSharp.Scalar centre = 0.5, spread = 0.26;   // rooted for the calls (RegionChat.Vision.RootedScalars says why)
            alpha = mask.to(ScalarType.Float32).sub(centre).div(spread);
        }
        else throw new InvalidDataException($"{path}: needs an `alpha` or a `mask` tensor");
        // One unbatched image [3,R,R] / [1,R,R] is accepted as a batch of one.
        if (image.dim() == 3) image = image.unsqueeze(0);
        if (alpha.dim() == 3) alpha = alpha.unsqueeze(0);
        return (image, alpha);
    }
}
