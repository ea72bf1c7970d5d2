namespace RegionChat.Inference;

/// <summary>What the core serves, as ListModels (gRPC) and GET /v1/models describe it.</summary>
public sealed record ModelList(string DefaultModel, IReadOnlyList<ModelDescription> Models);

/// <summary>The facts of one model: its vision tower, projector and LLM as the loaded files give them. A model not loaded
/// (yet, or because its load failed) is described from its manifest alone: the facts its files give are 0.</summary>
public sealed record ModelDescription
{
    public required string Id { get; init; }
    /// <summary>Loaded, not loaded yet (it loads on its first request), or failed (<see cref="LoadError"/> says why).</summary>
    public ModelLoadState State { get; init; } = ModelLoadState.Loaded;
    public string? LoadError { get; init; }
    /// <summary>The state as ListModels and /v1/models name it: "loaded", "not_loaded" or "failed".</summary>
    public string StateName => State switch { ModelLoadState.Loaded => "loaded", ModelLoadState.Failed => "failed", _ => "not_loaded" };
    /// <summary>When its model.json was written (Unix seconds).</summary>
    public long CreatedUnixSeconds { get; init; }
    /// <summary>KV cells of the serving context, shared by the parallel sessions.</summary>
    public int ContextSize { get; init; }
    /// <summary>Positions one session may hold: the serving context capped at the LLM's trained context.</summary>
    public int SessionContext { get; init; }
    public string Template { get; init; } = "";
    public string DefaultInstruction { get; init; } = "";
    public int ImageSize { get; init; }
    public int PatchSize { get; init; }
    public int VisionWidth { get; init; }
    public int VisionLayers { get; init; }
    public int FeatureLayer { get; init; }
    public string Preprocess { get; init; } = "";
    public string ProjectorType { get; init; } = "";
    public int ProjectorInputWidth { get; init; }
    public int ProjectorOutputWidth { get; init; }
    public int VisualTokens { get; init; }
    public string LlmArchitecture { get; init; } = "llama";
    public int EmbeddingLength { get; init; }
    public int LlmLayers { get; init; }
    public int VocabSize { get; init; }
    public int TrainContextLength { get; init; }

    /// <summary>A model that is not loaded, from its manifest: listing must not load it (a 7B model takes a while and its
    /// memory) nor fail for it.</summary>
    internal static ModelDescription Unloaded(ModelManifest manifest, ModelLoadStatus status) => new()
    {
        Id = manifest.Id,
        State = status.State,
        LoadError = status.Error,
        CreatedUnixSeconds = Created(manifest),
        DefaultInstruction = manifest.DefaultInstruction,
        FeatureLayer = manifest.Vision.FeatureLayer,
        Preprocess = manifest.Vision.Preprocess,
    };

    static long Created(ModelManifest manifest)
    {
        string json = Path.Combine(manifest.Directory, ModelManifest.FileName);
        return File.Exists(json) ? new DateTimeOffset(File.GetLastWriteTimeUtc(json)).ToUnixTimeSeconds() : 0;
    }

    internal static ModelDescription Of(RegionChatModel m)
    {
        var vc = m.Vision.Config;
        return new ModelDescription
        {
            Id = m.Id,
            CreatedUnixSeconds = Created(m.Manifest),
            ContextSize = m.Llm.Facts.ContextSize,
            SessionContext = m.Llm.Facts.SequenceLimit,
            Template = m.Template.Name,
            DefaultInstruction = m.Manifest.DefaultInstruction,
            ImageSize = vc.InputResolution, PatchSize = vc.PatchSize, VisionWidth = vc.Width, VisionLayers = vc.Layers,
            FeatureLayer = m.Manifest.Vision.FeatureLayer, Preprocess = m.Manifest.Vision.Preprocess,
            ProjectorType = m.Projector.ProjectorType, ProjectorInputWidth = m.Projector.InputDim, ProjectorOutputWidth = m.Projector.OutputDim,
            VisualTokens = m.VisualTokenCount,
            EmbeddingLength = m.Llm.Facts.EmbeddingWidth, LlmLayers = m.Llm.Facts.LayerCount, VocabSize = m.Llm.Facts.VocabSize,
            TrainContextLength = m.Llm.Facts.TrainContextLength,
        };
    }
}

/// <summary>An image in the core's store: its content id ("sha256:…"), size in pixels and encoded size.</summary>
public sealed record StoredImageInfo(string Id, int Width, int Height, long SizeBytes);
