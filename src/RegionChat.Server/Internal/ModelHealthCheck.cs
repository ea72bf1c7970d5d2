using Microsoft.Extensions.Diagnostics.HealthChecks;
using RegionChat.Inference;

namespace RegionChat.Server.Internal;

/// <summary>
/// The "model" health check (grpc.health.v1 and ASP.NET health checks): unhealthy while the default model is not loaded
/// and when any served model failed to load, so a probe sees a server that cannot answer. Other models load on first
/// use, so one that was not asked for yet is healthy. Reads states only: a probe never loads a model.
/// </summary>
internal sealed class ModelHealthCheck(RegionChatCore core) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var statuses = core.ModelStatuses();
        var data = statuses.ToDictionary(s => s.Id, s => (object)(s.State == ModelLoadState.Failed ? "failed: " + s.Error : State(s.State)));
        var problems = statuses.Where(s => s.State == ModelLoadState.Failed).Select(s => $"model '{s.Id}' failed to load: {s.Error}").ToList();
        if (!statuses.Any(s => s.IsDefault)) problems.Insert(0, $"the default model '{core.DefaultModelId}' is not served");
        else if (statuses.Single(s => s.IsDefault).State == ModelLoadState.NotLoaded)
            problems.Insert(0, $"the default model '{core.DefaultModelId}' is not loaded yet");
        var result = problems.Count > 0
            ? HealthCheckResult.Unhealthy(string.Join("; ", problems), data: data)
            : HealthCheckResult.Healthy($"serving {string.Join(", ", statuses.Where(s => s.State == ModelLoadState.Loaded).Select(s => s.Id))}", data);
        return Task.FromResult(result);
    }

    static string State(ModelLoadState state) => state == ModelLoadState.Loaded ? "loaded" : "not loaded";
}
