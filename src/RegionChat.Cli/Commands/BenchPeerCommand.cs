using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using RegionChat.Inference;
using RegionChat.Llm.Gguf;
using RegionChat.Vision.Regions;
using static RegionChat.Cli.Commands.CliOptions;

namespace RegionChat.Cli.Commands;

/// <summary>One pair of turns on the same image and prompt: llama.cpp's mtmd path and RegionChat's serving core.</summary>
internal sealed record PeerPair(double PeerEncodeMs, double PeerTtftMs, double RegionChatEncodeMs, double RegionChatTtftMs)
{
    public double EncodeRatio => PeerEncodeMs > 0 ? RegionChatEncodeMs / PeerEncodeMs : 0;
    public double TtftRatio => PeerTtftMs > 0 ? RegionChatTtftMs / PeerTtftMs : 0;
}

/// <summary>
/// `regionchat bench peer (--model DIR --mmproj FILE | --synth [--tiny]) [--runs N] [--threads T] [--json]`: RegionChat's
/// whole image turn (the serving core, <see cref="RegionChatCore"/>) against llama.cpp's own multimodal path (libmtmd via
/// LLamaSharp, <see cref="MtmdPeer"/>) in one process, alternating which goes first, same threads, same image bytes and
/// prompt, models loaded before timing on both sides. Reports image-encode and time-to-first-token medians and the paired
/// ratios RegionChat/peer (median and min), and the load average.
/// </summary>
internal static class BenchPeerCommand
{
    const string LlavaSystem = "A chat between a curious human and an artificial intelligence assistant. " +
                               "The assistant gives helpful, detailed, and polite answers to the human's questions.";

    /// <summary>LLaVA-1.5's geometry (ViT-L/14@336, projector 1024→4096→4096) with a 4096-wide, 2-layer Q8_0 LLM.</summary>
    internal static readonly BenchModelSynth.Shape Llava15 = new(Resolution: 336, Patch: 14, VisionWidth: 1024, VisionLayers: 24, VisionHeads: 16,
        Embd: 4096, Layers: 2, Heads: 32, KvHeads: 32, FeedForward: 11008, Vocab: 32000, WeightType: GgmlType.Q8_0);

    /// <summary>A few-MB geometry for smoke tests.</summary>
    internal static readonly BenchModelSynth.Shape Tiny = new(Resolution: 56, Patch: 14, VisionWidth: 64, VisionLayers: 2, VisionHeads: 2,
        Embd: 64, Layers: 2, Heads: 2, KvHeads: 2, FeedForward: 128, Vocab: 0, WeightType: GgmlType.F16);

    public static Command Create()
    {
        var model = new Option<DirectoryInfo?>("--model") { Description = "RegionChat model folder (holding model.json); the peer uses its LLM GGUF." };
        var mmproj = new Option<FileInfo?>("--mmproj") { Description = "llama.cpp mmproj GGUF of the same geometry, for the peer (with --model)." };
        var synth = new Option<bool>("--synth") { Description = "Write all three (mmproj, LLM GGUF, Alpha-CLIP model) with random weights to a temp " +
            "folder: LLaVA-1.5 geometry (ViT-L/14@336, mmproj F16 1024→4096→4096) with a 4096-wide 2-layer Q8_0 LLM." };
        var tiny = new Option<bool>("--tiny") { Description = "With --synth: a tiny geometry (56 px / patch 14 / width 64, LLM 64 x 2) for smoke tests." };
        var synthDir = new Option<DirectoryInfo?>("--synth-dir") { Description = "With --synth: write to (or reuse) this folder instead of a temp one." };
        var runs = Int("--runs", "Timed pairs (each pair: both paths on one fresh image, the order alternating).", 5);
        var threads = Int("--threads", "CPU threads for llama.cpp, clip.cpp and TorchSharp (both paths).", Environment.ProcessorCount);
        var dtype = new Option<string>("--vision-dtype") { Description = "RegionChat's vision number type (float32 or fp32, bfloat16 or bf16, auto; default: " +
            "the model's).", DefaultValueFactory = _ => "" };
        var json = new Option<bool>("--json") { Description = "End with one JSON line holding every figure and ratio." };

        var command = new Command("peer", "Time RegionChat's image turn against llama.cpp's own multimodal path (mtmd): encode and TTFT.");
        foreach (var o in new Option[] { model, mmproj, synth, tiny, synthDir, runs, threads, dtype, json }) command.Options.Add(o);
        command.SetAction(async (parse, ct) =>
        {
            var output = parse.InvocationConfiguration.Output;
            var error = parse.InvocationConfiguration.Error;
            string? temp = null;
            try
            {
                int nRuns = parse.GetValue(runs), nThreads = parse.GetValue(threads);
                if (nRuns is < 1 or > 1000) throw new ArgumentException($"--runs must be in [1, 1000], got {nRuns}");
                if (nThreads is < 1 or > 1024) throw new ArgumentException($"--threads must be in [1, 1024], got {nThreads}");
                string dir, mmprojPath;
                bool isSynth = parse.GetValue(synth);
                if (isSynth)
                {
                    if (parse.GetValue(model) != null || parse.GetValue(mmproj) != null)
                        throw new ArgumentException("give --model DIR --mmproj FILE or --synth, not both");
                    string root;
                    if (parse.GetValue(synthDir) is { } keep) root = keep.FullName;
                    else root = temp = Directory.CreateTempSubdirectory("regionchat-peer-").FullName;
                    (dir, mmprojPath) = parse.GetValue(tiny) ? Synthesize(root, "synth-peer-tiny", Tiny, output)
                        : Synthesize(root, "synth-peer-llava15", Llava15, output);
                }
                else
                {
                    if (parse.GetValue(tiny) || parse.GetValue(synthDir) != null) throw new ArgumentException("--tiny and --synth-dir go with --synth");
                    dir = parse.GetValue(model)?.FullName ?? throw new ArgumentException("give --model DIR --mmproj FILE, or --synth");
                    if (!File.Exists(Path.Combine(dir, ModelManifest.FileName))) throw new ArgumentException($"--model: no {ModelManifest.FileName} in {dir}");
                    mmprojPath = parse.GetValue(mmproj)?.FullName ?? throw new ArgumentException("--model needs --mmproj FILE (the peer's vision GGUF)");
                    if (!File.Exists(mmprojPath)) throw new ArgumentException($"--mmproj: no file {mmprojPath}");
                }
                var result = await RunAsync(dir, mmprojPath, nRuns, nThreads, parse.GetValue(dtype) ?? "", output.WriteLine, ct).ConfigureAwait(false);
                Print(result, output);
                if (parse.GetValue(json)) output.WriteLine(Json(result, isSynth));
                return 0;
            }
            catch (MtmdUnavailableException e)
            {
                error.WriteLine($"error: the peer cannot run here: {e.Message}");
                return 3;
            }
            catch (Exception e) when (CliErrors.IsExpected(e))
            {
                return CliErrors.Report(e, error);
            }
            finally
            {
                if (temp != null) try { Directory.Delete(temp, true); } catch (IOException) { }
            }
        });
        return command;
    }

    static (string ModelDir, string Mmproj) Synthesize(string root, string name, BenchModelSynth.Shape shape, TextWriter output)
    {
        string dir = Path.Combine(root, name), mmproj = Path.Combine(root, name + ".mmproj.gguf");
        var clock = Stopwatch.StartNew();
        if (!File.Exists(Path.Combine(dir, ModelManifest.FileName))) BenchModelSynth.Write(dir, shape);
        if (!File.Exists(mmproj))
            MmprojSynth.Write(mmproj, new MmprojSynth.Shape(shape.Resolution, shape.Patch, shape.VisionWidth, shape.VisionLayers, shape.VisionHeads,
                shape.Embd));
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"random-weight model folder {dir} and mmproj {mmproj} ready in {clock.Elapsed.TotalSeconds:F1} s"));
        return (dir, mmproj);
    }

    internal sealed record Result(string ModelId, int VisualTokens, int ImageSize, int LlmWidth, int LlmLayers, int Threads, string VisionDtype,
        IReadOnlyList<PeerPair> Pairs, int PeerPromptPositions, int RegionChatPromptTokens, double LoadBefore, double LoadAfter)
    {
        public double PeerEncodeMs => PathFigures.Median(Pairs.Select(p => p.PeerEncodeMs));
        public double PeerTtftMs => PathFigures.Median(Pairs.Select(p => p.PeerTtftMs));
        public double RegionChatEncodeMs => PathFigures.Median(Pairs.Select(p => p.RegionChatEncodeMs));
        public double RegionChatTtftMs => PathFigures.Median(Pairs.Select(p => p.RegionChatTtftMs));
        public double EncodeRatioMedian => PathFigures.Median(Pairs.Select(p => p.EncodeRatio));
        public double EncodeRatioMin => Pairs.Min(p => p.EncodeRatio);
        public double TtftRatioMedian => PathFigures.Median(Pairs.Select(p => p.TtftRatio));
        public double TtftRatioMin => Pairs.Min(p => p.TtftRatio);
    }

    internal static async Task<Result> RunAsync(string modelDir, string mmprojPath, int runs, int threads, string visionDtype, Action<string> log,
        CancellationToken ct)
    {
        double loadBefore = ServerBenchmark.LoadAverage();
        var manifest = ModelManifest.Load(modelDir);
        string llmPath = Path.GetFullPath(Path.Combine(modelDir, manifest.Llm.Gguf));
        const int contextSize = 4096, batchSize = 512;
        var setup = Stopwatch.StartNew();
        using var core = RegionChatCore.ForModelFolder(modelDir, new RegionChatCoreOptions
        {
            Threads = threads, ContextSize = contextSize, ParallelSequences = 1, BatchSize = batchSize, VisionDtype = visionDtype,
        });
        var model = core.LoadDefaultModel();
        using var peer = MtmdPeer.Load(llmPath, mmprojPath, threads, contextSize, batchSize);
        log($"loaded {model.Id} in RegionChat and {Path.GetFileName(llmPath)} + {Path.GetFileName(mmprojPath)} in llama.cpp's mtmd in " +
            $"{setup.Elapsed.TotalSeconds:F1} s ({model.VisualTokens} visual tokens, LLM {model.EmbeddingLength} x {model.LlmLayers}, {threads} threads)");

        string question = model.DefaultInstruction;
        string peerPrompt = $"{LlavaSystem} USER: {peer.Marker}\n{question} ASSISTANT:";
        // Warm-up on both sides: JIT, first-touch allocations, graph set-up.
        var warm = ServerBenchmark.MakePrompt(900_000, model.ImageSize, question);
        peer.Run(warm.Png, peerPrompt);
        await RegionChatTurnAsync(core, warm, ct).ConfigureAwait(false);

        var pairs = new List<PeerPair>();
        int peerPositions = 0, rcPromptTokens = 0;
        for (int i = 0; i < runs; i++)
        {
            // A fresh image per pair: RegionChat's visual-token cache must not answer what the peer computes.
            var p = ServerBenchmark.MakePrompt(3_000_000 + i, model.ImageSize, question);
            PeerTurn? pt = null;
            (double Encode, double Ttft, int Prompt)? rc = null;
            for (int leg = 0; leg < 2; leg++)
            {
                if ((leg == 0) == (i % 2 == 0)) pt = peer.Run(p.Png, peerPrompt);
                else rc = await RegionChatTurnAsync(core, p, ct).ConfigureAwait(false);
            }
            var pair = new PeerPair(pt!.EncodeMs, pt.TtftMs, rc!.Value.Encode, rc.Value.Ttft);
            pairs.Add(pair);
            peerPositions = pt.PromptPositions;
            rcPromptTokens = rc.Value.Prompt;
            log(string.Create(CultureInfo.InvariantCulture, $"pair {i + 1}/{runs} ({(i % 2 == 0 ? "peer first" : "RegionChat first")}): encode " +
                $"peer {pair.PeerEncodeMs:F1} / RegionChat {pair.RegionChatEncodeMs:F1} ms, ttft {pair.PeerTtftMs:F1} / {pair.RegionChatTtftMs:F1} ms " +
                $"(load {ServerBenchmark.LoadAverage():F1})"));
        }
        return new Result(model.Id, model.VisualTokens, model.ImageSize, model.EmbeddingLength, model.LlmLayers, threads,
            VisionPrecision.Canonical(visionDtype.Length == 0 ? manifest.Vision.Dtype : visionDtype), pairs, peerPositions, rcPromptTokens,
            loadBefore, ServerBenchmark.LoadAverage());
    }

    /// <summary>RegionChat's whole image turn through the serving core, image bytes in, timed to the first text; the
    /// encode figure is the core's own vision timing for the turn.</summary>
    static async Task<(double Encode, double Ttft, int Prompt)> RegionChatTurnAsync(RegionChatCore core, ServerBenchmark.Prompt p, CancellationToken ct)
    {
        var r = await FirstTokenTurn.RunAsync(core, p, null, ct).ConfigureAwait(false);
        return (r.Finished.Timings.VisionEncodeMs, r.TtftMs, r.Started.PromptTokens);
    }

    static void Print(Result r, TextWriter output)
    {
        var c = CultureInfo.InvariantCulture;
        output.WriteLine(string.Create(c, $"model {r.ModelId}: {r.ImageSize} px, {r.VisualTokens} visual tokens, LLM {r.LlmWidth} x {r.LlmLayers}, " +
            $"RegionChat vision {r.VisionDtype}; {r.Pairs.Count} pairs, {r.Threads} threads; prompt positions peer {r.PeerPromptPositions}, " +
            $"RegionChat {r.RegionChatPromptTokens}; load avg {r.LoadBefore:F2} → {r.LoadAfter:F2}"));
        output.WriteLine(string.Create(c, $"{"",-24}{"peer (mtmd)",14}{"RegionChat",14}{"ratio median",14}{"ratio min",12}"));
        output.WriteLine(string.Create(c,
            $"{"image encode (ms)",-24}{r.PeerEncodeMs,14:F1}{r.RegionChatEncodeMs,14:F1}{r.EncodeRatioMedian,14:F3}{r.EncodeRatioMin,12:F3}"));
        output.WriteLine(string.Create(c,
            $"{"time to first token (ms)",-24}{r.PeerTtftMs,14:F1}{r.RegionChatTtftMs,14:F1}{r.TtftRatioMedian,14:F3}{r.TtftRatioMin,12:F3}"));
        output.WriteLine("(ms: medians; ratios: RegionChat / peer over the pairs, below 1 = RegionChat faster)");
    }

    static string Json(Result r, bool synth) => JsonSerializer.Serialize(new Dictionary<string, object?>
    {
        ["model"] = r.ModelId,
        ["synthetic"] = synth,
        ["image_size"] = r.ImageSize,
        ["visual_tokens"] = r.VisualTokens,
        ["llm_width"] = r.LlmWidth,
        ["llm_layers"] = r.LlmLayers,
        ["threads"] = r.Threads,
        ["vision_dtype"] = r.VisionDtype,
        ["runs"] = r.Pairs.Count,
        ["peer_prompt_positions"] = r.PeerPromptPositions,
        ["regionchat_prompt_tokens"] = r.RegionChatPromptTokens,
        ["peer_encode_ms"] = Round(r.PeerEncodeMs),
        ["regionchat_encode_ms"] = Round(r.RegionChatEncodeMs),
        ["encode_ratio_median"] = Round(r.EncodeRatioMedian),
        ["encode_ratio_min"] = Round(r.EncodeRatioMin),
        ["peer_ttft_ms"] = Round(r.PeerTtftMs),
        ["regionchat_ttft_ms"] = Round(r.RegionChatTtftMs),
        ["ttft_ratio_median"] = Round(r.TtftRatioMedian),
        ["ttft_ratio_min"] = Round(r.TtftRatioMin),
        ["pairs"] = r.Pairs.Select(p => new Dictionary<string, double>
        {
            ["peer_encode_ms"] = Round(p.PeerEncodeMs), ["regionchat_encode_ms"] = Round(p.RegionChatEncodeMs),
            ["peer_ttft_ms"] = Round(p.PeerTtftMs), ["regionchat_ttft_ms"] = Round(p.RegionChatTtftMs),
        }).ToList(),
        ["load_avg_before"] = double.IsFinite(r.LoadBefore) ? r.LoadBefore : null,
        ["load_avg_after"] = double.IsFinite(r.LoadAfter) ? r.LoadAfter : null,
    });

    static double Round(double v) => double.IsFinite(v) ? Math.Round(v, 4) : 0;
}
