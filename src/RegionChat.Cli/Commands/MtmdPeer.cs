using System.Diagnostics;
using System.Runtime.InteropServices;
using LLama;
using LLama.Common;
using LLama.Native;

namespace RegionChat.Cli.Commands;

/// <summary>llama.cpp's multimodal path (libmtmd / clip.cpp) could not load or run here; the message says why.</summary>
internal sealed class MtmdUnavailableException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>One image turn on llama.cpp's own multimodal path: image encode, then prompt + first token.</summary>
internal sealed record PeerTurn(double EncodeMs, double TtftMs, int PromptPositions);

/// <summary>
/// The peer of `bench peer`: llama.cpp's multimodal path as LLamaSharp 0.30 exposes it, on its own LLM context (model
/// and mmproj loaded once, outside the timing). A turn is what <c>mtmd_helper_eval_chunks</c> does, with the image
/// chunk's encode timed apart: the image bytes decoded into a bitmap (<see cref="SafeMtmdEmbed.FromMediaBuffer"/>), the
/// prompt tokenized around it (<see cref="SafeMtmdModelHandle.Tokenize(string, bool, bool, ReadOnlySpan{SafeMtmdEmbed}, out SafeMtmdInputChunks)"/>),
/// the image chunk encoded by clip.cpp (<c>mtmd_encode_chunk</c>) and its embeddings decoded
/// (<see cref="SafeMtmdModelHandle.DecodeImageChunk"/>), text chunks evaluated (<see cref="SafeMtmdModelHandle.EvaluateChunk"/>), then the
/// first token taken greedily from the last logits. LLamaSharp 0.30 has no public encode-only call, so
/// <c>mtmd_encode_chunk</c> / <c>mtmd_get_output_embd</c> are called from the libmtmd LLamaSharp itself loaded.
/// </summary>
internal sealed class MtmdPeer : IDisposable
{
    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    delegate int EncodeChunk(IntPtr ctx, IntPtr chunk);
    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    delegate IntPtr OutputEmbd(IntPtr ctx);
    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    delegate void LogCallback(int level, IntPtr text, IntPtr userData);
    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    delegate void LogSet(LogCallback callback, IntPtr userData);

    /// <summary>libmtmd logs every turn's chunks at debug level to stderr; only its warnings and errors are kept.</summary>
    static readonly LogCallback QuietLog = (level, text, _) =>
    {
        if (level is 3 or 4) Console.Error.Write(Marshal.PtrToStringUTF8(text));   // GGML_LOG_LEVEL_WARN, _ERROR
    };

    readonly LLamaWeights weights;
    readonly LLamaContext context;
    readonly MtmdWeights mtmd;
    readonly EncodeChunk encode;
    readonly OutputEmbd outputEmbd;
    readonly int batchSize;

    MtmdPeer(LLamaWeights weights, LLamaContext context, MtmdWeights mtmd, EncodeChunk encode, OutputEmbd outputEmbd)
    {
        this.weights = weights;
        this.context = context;
        this.mtmd = mtmd;
        this.encode = encode;
        this.outputEmbd = outputEmbd;
        batchSize = (int)context.NativeHandle.BatchSize;
    }

    public string Marker { get; private init; } = "<__media__>";

    /// <summary>Loads the LLM GGUF and the mmproj GGUF with the given threads; throws <see cref="MtmdUnavailableException"/>
    /// when libmtmd cannot load or run here.</summary>
    public static MtmdPeer Load(string llmPath, string mmprojPath, int threads, int contextSize, int batchSize)
    {
        var p = new ModelParams(llmPath)
        {
            ContextSize = (uint)contextSize, BatchSize = (uint)batchSize, UBatchSize = (uint)batchSize, SeqMax = 1,
            Threads = threads, BatchThreads = threads, GpuLayerCount = 0,
        };
        var weights = LLamaWeights.LoadFromFile(p);
        LLamaContext? context = null;
        MtmdWeights? mtmd = null;
        try
        {
            context = weights.CreateContext(p);
            var mp = MtmdContextParams.Default();
            mp.UseGpu = false;
            mp.NThreads = threads;
            mp.PrintTimings = false;
            mp.Warmup = true;
            string marker;
            IntPtr lib;
            try
            {
                // The marker call loads libmtmd: its log is quietened before the mmproj load prints every tensor.
                marker = NativeApi.MtmdDefaultMarker() ?? "<__media__>";
                lib = TryLoadedLibrary("libmtmd");
                if (lib != IntPtr.Zero) Quieten(lib);
                mtmd = MtmdWeights.LoadFromFile(mmprojPath, weights, mp);
            }
            catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException or LLama.Exceptions.RuntimeError or TypeInitializationException)
            {
                throw new MtmdUnavailableException($"llama.cpp's multimodal library (libmtmd) could not load {mmprojPath}: {e.Message}", e);
            }
            if (!mtmd.SupportsVision) throw new MtmdUnavailableException($"libmtmd loaded {mmprojPath} without a vision encoder");
            if (lib == IntPtr.Zero)
            {
                lib = TryLoadedLibrary("libmtmd");
                if (lib == IntPtr.Zero) throw new MtmdUnavailableException("libmtmd is not loaded in this process after LLamaSharp loaded the mmproj");
                Quieten(lib);
            }
            var peer = new MtmdPeer(weights, context, mtmd,
                Marshal.GetDelegateForFunctionPointer<EncodeChunk>(Export(lib, "mtmd_encode_chunk")),
                Marshal.GetDelegateForFunctionPointer<OutputEmbd>(Export(lib, "mtmd_get_output_embd")))
            {
                Marker = marker,
            };
            return peer;
        }
        catch
        {
            mtmd?.Dispose();
            context?.Dispose();
            weights.Dispose();
            throw;
        }
    }

    /// <summary>One turn from the image bytes to the first token; the KV cache is cleared first.</summary>
    public PeerTurn Run(byte[] image, string prompt)
    {
        var ctx = context.NativeHandle;
        ctx.MemoryClear(true);
        var clock = Stopwatch.StartNew();
        using var bitmap = SafeMtmdEmbed.FromMediaBuffer(mtmd.NativeHandle, image)
            ?? throw new InvalidOperationException("libmtmd could not decode the image");
        int status = mtmd.NativeHandle.Tokenize(prompt, true, true, [bitmap], out var chunks);
        if (status != 0 || chunks == null) throw new InvalidOperationException($"mtmd_tokenize failed ({status})");
        double encodeMs = 0;
        int nPast = 0;
        using (chunks)
        {
            var list = chunks.Enumerate().ToList();
            IntPtr mctx = mtmd.NativeHandle.DangerousGetHandle();
            for (int i = 0; i < list.Count; i++)
            {
                var chunk = list[i];
                bool last = i == list.Count - 1;
                if (chunk.Type == SafeMtmdInputChunk.SafeMtmdInputChunkType.Image)
                {
                    var e = Stopwatch.StartNew();
                    int rc = encode(mctx, chunk.NativePtr);
                    encodeMs += e.Elapsed.TotalMilliseconds;
                    if (rc != 0) throw new InvalidOperationException($"mtmd_encode_chunk failed ({rc})");
                    rc = mtmd.NativeHandle.DecodeImageChunk(chunk.NativePtr, ctx, outputEmbd(mctx), ref nPast, 0, batchSize);
                    if (rc != 0) throw new InvalidOperationException($"mtmd_helper_decode_image_chunk failed ({rc})");
                    if (last) throw new InvalidOperationException("the prompt must end with text after the image");
                }
                else
                {
                    int rc = mtmd.NativeHandle.EvaluateChunk(chunk.NativePtr, ctx, ref nPast, 0, batchSize, last);
                    if (rc != 0) throw new InvalidOperationException($"mtmd_helper_eval_chunk_single failed ({rc})");
                }
            }
        }
        var logits = ctx.GetLogitsIth(-1);
        int best = 0;
        for (int i = 1; i < logits.Length; i++) if (logits[i] > logits[best]) best = i;
        double ttft = clock.Elapsed.TotalMilliseconds;
        GC.KeepAlive(best);
        return new PeerTurn(encodeMs, ttft, nPast);
    }

    public void Dispose()
    {
        mtmd.Dispose();
        context.Dispose();
        weights.Dispose();
    }

    static void Quieten(IntPtr lib)
    {
        foreach (var setter in new[] { "mtmd_log_set", "mtmd_helper_log_set" })
            if (NativeLibrary.TryGetExport(lib, setter, out var set)) Marshal.GetDelegateForFunctionPointer<LogSet>(set)(QuietLog, IntPtr.Zero);
    }

    /// <summary>The native library already mapped into this process whose file name starts with <paramref name="stem"/>, or zero.</summary>
    static IntPtr TryLoadedLibrary(string stem)
    {
        string? path = null;
        try
        {
            path = File.ReadLines("/proc/self/maps").Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries))
                .Where(f => f.Length >= 6).Select(f => string.Join(' ', f.Skip(5)))
                .FirstOrDefault(f => Path.GetFileName(f).StartsWith(stem + ".", StringComparison.Ordinal));
        }
        catch (IOException) { }
        return path != null && NativeLibrary.TryLoad(path, out var handle) ? handle : IntPtr.Zero;
    }

    static IntPtr Export(IntPtr lib, string name) => NativeLibrary.TryGetExport(lib, name, out var f) ? f
        : throw new MtmdUnavailableException($"libmtmd has no {name} symbol");
}
