using Microsoft.Extensions.Options;
using RegionChat.Inference;

namespace RegionChat.Server.Internal;

/// <summary>Checks the "RegionChat" section when the host starts; each failure names the setting as it is configured.</summary>
internal sealed class ServerOptionsValidator : IValidateOptions<ServerOptions>
{
    public ValidateOptionsResult Validate(string? name, ServerOptions o)
    {
        var failures = new List<string>();
        void Range(string setting, double value, double min, double max)
        {
            if (!(value >= min && value <= max)) failures.Add($"{ServerOptions.Section}:{setting} must be in [{min}, {max}], got {value}");
        }
        Range(nameof(o.Threads), o.Threads, 0, 1024);
        Range(nameof(o.LlmThreads), o.LlmThreads, 0, 1024);
        Range(nameof(o.QueueSize), o.QueueSize, 1, 1_000_000);
        // llama.cpp serves at most 256 sequences, each needs a batch slot and a context cell.
        Range(nameof(o.ParallelSequences), o.ParallelSequences, 1, Math.Min(256, Math.Min(o.BatchSize, o.ContextSize)));
        Range(nameof(o.MaxLoadedModels), o.MaxLoadedModels, 0, 1000);
        if (o.OneShotSequences is int oneShot) Range(nameof(o.OneShotSequences), oneShot, 0, o.ParallelSequences - 1);
        Range(nameof(o.ContextSize), o.ContextSize, 256, 1 << 20);
        Range(nameof(o.BatchSize), o.BatchSize, 1, 1 << 16);
        Range(nameof(o.GpuLayers), o.GpuLayers, 0, 100_000);
        Range(nameof(o.VisualCacheBytes), o.VisualCacheBytes, 0, long.MaxValue);
        Range(nameof(o.TowerPixelCacheBytes), o.TowerPixelCacheBytes, 0, long.MaxValue);
        Range(nameof(o.VisionMaxBatch), o.VisionMaxBatch, 1, VisionBatcher.MaxBatchLimit);
        Range(nameof(o.ImageStoreBytes), o.ImageStoreBytes, 1, long.MaxValue);
        Range(nameof(o.MaxImageBytes), o.MaxImageBytes, 1, long.MaxValue);
        Range(nameof(o.MaxImagePixels), o.MaxImagePixels, 1, long.MaxValue);
        Range(nameof(o.MaxReceiveMessageBytes), o.MaxReceiveMessageBytes, 1, int.MaxValue);
        Range(nameof(o.MaxPromptBytes), o.MaxPromptBytes, 1, int.MaxValue);
        Range(nameof(o.MaxIdLength), o.MaxIdLength, 71, 1 << 20);
        Range(nameof(o.MaxHistoryMessages), o.MaxHistoryMessages, 1, 1 << 20);
        Range(nameof(o.MinRequestBodyBytesPerSecond), o.MinRequestBodyBytesPerSecond, 0, 1 << 30);
        Range(nameof(o.RequestBodyGraceSeconds), o.RequestBodyGraceSeconds, 2, 3600); // Kestrel needs more than its 1 s heartbeat
        Range(nameof(o.RequestHeadersTimeoutSeconds), o.RequestHeadersTimeoutSeconds, 1, 3600);
        Range(nameof(o.MaxConnections), o.MaxConnections, 0, 1_000_000);
        Range(nameof(o.MaxHistoryBytes), o.MaxHistoryBytes, 1, int.MaxValue); // an image id ("sha256:" + 64 hex digits) must fit
        Range(nameof(o.MaxTokensLimit), o.MaxTokensLimit, 1, 1 << 20);
        Range(nameof(o.DefaultMaxTokens), o.DefaultMaxTokens, 1, o.MaxTokensLimit);
        Range(nameof(o.SessionIdleSeconds), o.SessionIdleSeconds, 1, 365 * 86400.0);
        Range(nameof(o.ShutdownDrainSeconds), o.ShutdownDrainSeconds, 0, 86400.0);
        Range("SessionStore:MaxBytes", o.SessionStore.MaxBytes, 1, long.MaxValue);
        Range("SessionStore:ImageBytes", o.SessionStore.ImageBytes, 1, long.MaxValue);
        Range("SessionStore:ImageSeconds", o.SessionStore.ImageSeconds, 1, 365 * 86400.0);
        Range("SessionStore:LeaseSeconds", o.SessionStore.LeaseSeconds, 1, 3600);
        if (o.SessionStore.Redis.Length > 0)
        {
            try { StackExchange.Redis.ConfigurationOptions.Parse(o.SessionStore.Redis); }
            catch (ArgumentException e) { failures.Add($"{ServerOptions.Section}:SessionStore:Redis is not a Redis connection string: {e.Message}"); }
        }
        if (o.SessionStore.ImageFolder.Length > 0 && ImageFolderProblem(o.SessionStore.ImageFolder) is { } folder)
            failures.Add($"{ServerOptions.Section}:SessionStore:ImageFolder '{o.SessionStore.ImageFolder}' cannot be written: {folder}");
        failures.AddRange(o.Regions.Problems());
        foreach (var (id, model) in o.Models)
            Range($"Models:{id}:{nameof(ModelSettings.VisualTokenBudget)}", model.VisualTokenBudget, 0, VisualTokenSelection.MaxBudget);
        foreach (var (id, set) in o.LabelSets)
        {
            var (labels, problem) = set.Load();
            string setting = $"{ServerOptions.Section}:{nameof(o.LabelSets)}:{id}";
            if (problem != null) failures.Add($"{setting}:{problem}");
            else failures.AddRange(LabelSets.Problems(id, labels, o.MaxIdLength).Select(p => $"{setting} {p}"));
        }
        if (Accelerators.Check(o.Device, $"{ServerOptions.Section}:{nameof(ServerOptions.Device)}") is { } device) failures.Add(device);
        if (o.VisionDtype.Length > 0 && VisionPrecision.Check(o.VisionDtype, $"{ServerOptions.Section}:{nameof(o.VisionDtype)}") is { } dtype)
            failures.Add(dtype);
        Range("OpenAi:MaxRequestBytes", o.OpenAi.MaxRequestBytes, 1, long.MaxValue);
        if (o.OtlpTracesEndpoint.Length > 0 && HttpUrl(o.OtlpTracesEndpoint) == null)
            failures.Add($"{ServerOptions.Section}:{nameof(o.OtlpTracesEndpoint)} must be an http(s) URL, got '{o.OtlpTracesEndpoint}'");
        if (string.IsNullOrWhiteSpace(o.DefaultModel)) failures.Add($"{ServerOptions.Section}:{nameof(o.DefaultModel)} is required");
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    /// <summary>An absolute http(s) URL, or null.</summary>
    public static Uri? HttpUrl(string text) =>
        Uri.TryCreate(text, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https" ? uri : null;

    /// <summary>Why the shared image folder cannot be used (created and written), or null.</summary>
    static string? ImageFolderProblem(string folder)
    {
        try
        {
            string probe = Path.Combine(Directory.CreateDirectory(folder).FullName, $".probe-{Environment.ProcessId}");
            File.WriteAllBytes(probe, [1]);
            File.Delete(probe);
            return null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            return e.Message;
        }
    }
}
