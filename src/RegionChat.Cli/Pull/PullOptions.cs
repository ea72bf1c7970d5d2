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
    /// <summary>How often one file's download is tried again in the same run after a failure of the host or the network
    /// (it resumes where it stopped), waiting 1, 2, 4, … s (at most 30), or what the host's Retry-After asks.</summary>
    public int Retries { get; init; } = 4;
    /// <summary>A Hugging Face access token (HF_TOKEN), sent as "Authorization: Bearer" to the Hugging Face host only
    /// (<see cref="HfEndpoint"/>'s, else huggingface.co): gated and private repositories need it.</summary>
    public string? HfToken { get; init; }
    /// <summary>HF_ENDPOINT: a Hugging Face mirror whose scheme, host and port (and path, as a prefix) replace those of
    /// the huggingface.co URLs only (<see cref="Mirror"/> replaces every URL's).</summary>
    public Uri? HfEndpoint { get; init; }

}
