namespace RegionChat.Inference;

/// <summary>Where a served model is in its loading.</summary>
public enum ModelLoadState
{
    /// <summary>Not loaded yet (the default model loads at start, others on first use), or loading now.</summary>
    NotLoaded,
    /// <summary>Loaded and serving.</summary>
    Loaded,
    /// <summary>Its load threw; it stays failed until the process restarts (<see cref="ModelLoadStatus.Error"/> says why).</summary>
    Failed,
}

/// <summary>One served model's load state, as health checks report it; <see cref="Error"/> is set when it failed.</summary>
public sealed record ModelLoadStatus(string Id, bool IsDefault, ModelLoadState State, string? Error = null);
