using RegionChat.Inference;

namespace RegionChat.Server.Internal;

/// <summary>Expires the core's idle sessions every few seconds.</summary>
internal sealed class SessionSweeper(RegionChatCore core, ILogger<SessionSweeper> log) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var period = TimeSpan.FromSeconds(Math.Clamp(core.Options.SessionIdleSeconds / 4, 0.25, 30));
        using var timer = new PeriodicTimer(period);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
            {
                int n = core.ExpireIdleSessions();
                if (n > 0) ServerLog.SessionsExpired(log, n);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Stopped, or disposed after a start that failed (a taken port): not a failure of the sweeper.
        }
    }
}
