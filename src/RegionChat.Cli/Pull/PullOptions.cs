namespace RegionChat.Cli.Pull;

/// <summary>How `regionchat pull` installs a model.</summary>
internal sealed record PullOptions
{
    /// <summary>The models folder; the model goes to <c>ModelsRoot/&lt;id&gt;/</c>.</summary>
    public string ModelsRoot { get; init; } = "models";
    /// <summary>When set, its scheme, host, port (and path, as a prefix) replace those of every URL.</summary>
    public Uri? Mirror { get; init; }
    /// <summary>Install files whose manifest entry has no SHA-256 (their hash is printed, never checked).</summary>
    public bool AllowUnverified { get; init; }
    /// <summary>A download that receives nothing for this long is abandoned (its partial file kept for a rerun).</summary>
    public TimeSpan IdleTimeout { get; init; } = TimeSpan.FromSeconds(60);
}
