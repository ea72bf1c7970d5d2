namespace RegionChat.Inference;

/// <summary>How a model is served: the shared llama.cpp context and the CPU threads.</summary>
public sealed record RegionChatModelOptions
{
    /// <summary>The context size every host uses unless told otherwise (the server, the core, in-process callers).</summary>
    public const int DefaultContextSize = 8192;

    /// <summary>KV cells shared by all sequences.</summary>
    public int ContextSize { get; init; } = DefaultContextSize;
    /// <summary>Prefill chunk in tokens.</summary>
    public int BatchSize { get; init; } = 512;
    /// <summary>Sequences decoded together.</summary>
    public int MaxSequences { get; init; } = 8;
    /// <summary>Sequences kept for one-shot requests (LlmEngineOptions.OneShotSequences).</summary>
    public int OneShotSequences { get; init; }
    /// <summary>CPU threads for TorchSharp (one for a tower under a GFLOP: <see cref="VisionThreadChoice"/>), and for
    /// llama.cpp unless <see cref="LlmThreads"/> says otherwise.</summary>
    public int Threads { get; init; } = Math.Max(1, Environment.ProcessorCount);
    /// <summary>llama.cpp's threads; 0 = <see cref="LlmThreadChoice"/> (one for a tiny GGUF, else <see cref="Threads"/>).</summary>
    public int LlmThreads { get; init; }
    /// <summary>Layers offloaded to a GPU by llama.cpp. Only the CPU backend ships here: GPU use is configuration only, untested.</summary>
    public int GpuLayers { get; init; }
    /// <summary>Where the vision tower and projector run: cpu, cuda or auto (<see cref="Accelerators"/>). CUDA is untested here.</summary>
    public string VisionDevice { get; init; } = Accelerators.Auto;
    /// <summary>The vision tower's number type instead of the manifest's vision.dtype ("" = the manifest's; see
    /// <see cref="VisionPrecision"/>).</summary>
    public string VisionDtype { get; init; } = "";
    /// <summary>Visual tokens kept per image unless a request says otherwise ("RegionChat:Models:&lt;id&gt;:VisualTokenBudget"):
    /// 0 (the default) or at least the model's count keeps all of them; else <see cref="VisualTokenSelection"/> picks them.</summary>
    public int VisualTokenBudget { get; init; }
}
