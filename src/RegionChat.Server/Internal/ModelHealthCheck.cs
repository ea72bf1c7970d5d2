using Microsoft.Extensions.Diagnostics.HealthChecks;
using RegionChat.Inference;

namespace RegionChat.Server.Internal;

/// <summary>
/// The "model" health check (grpc.health.v1 and ASP.NET health checks): unhealthy while the default model is not loaded
/// (or failed), so a readiness probe sees a server that cannot answer. Another model that failed to load is degraded, not
/// unhealthy: the server still answers for the default model, and every replica with the same files fails alike, so
/// taking them out of service would stop the whole fleet. Other models load on first use, so one that was not asked for
/// yet is healthy. Unhealthy from the start of a shutdown (its drain). Reads states only: a probe never loads a model.
/// </summary>
internal sealed class ModelHealthCheck(RegionChatCore core) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        // Draining: a load balancer should send nothing more (new requests are refused anyway).
        if (core.IsShuttingDown) return Task.FromResult(HealthCheckResult.Unhealthy("the server is shutting down"));
        var statuses = core.ModelStatuses();
        var data = statuses.ToDictionary(s => s.Id, s => (object)(s.State == ModelLoadState.Failed ? "failed: " + s.Error : State(s.State)));
        var problems = statuses.Where(s => s.State == ModelLoadState.Failed).Select(s => $"model '{s.Id}' failed to load: {s.Error}").ToList();
        var defaultModel = statuses.SingleOrDefault(s => s.IsDefault);
        bool unhealthy = defaultModel?.State != ModelLoadState.Loaded;
        if (defaultModel == null) problems.Insert(0, $"the default model '{core.DefaultModelId}' is not served");
        else if (defaultModel.State == ModelLoadState.NotLoaded) problems.Insert(0, $"the default model '{core.DefaultModelId}' is not loaded yet");
        string serving = $"serving {string.Join(", ", statuses.Where(s => s.State == ModelLoadState.Loaded).Select(s => s.Id))}";
        var result = unhealthy ? HealthCheckResult.Unhealthy(string.Join("; ", problems), data: data)
            : problems.Count > 0 ? HealthCheckResult.Degraded($"{serving}; {string.Join("; ", problems)}", data: data)
            : HealthCheckResult.Healthy(serving, data);
        return Task.FromResult(result);
    }

    static string State(ModelLoadState state) => state == ModelLoadState.Loaded ? "loaded" : "not loaded";
}
