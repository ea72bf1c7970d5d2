namespace RegionChat.Inference.Internal;

/// <summary>
/// Shutdown in two steps. Draining: new calls are refused, admitted ones run on. Stopping (<see cref="Token"/>): running
/// turns end with a Cancelled finish instead of being cut, and waiting ones are refused.
/// </summary>
internal sealed class ShutdownSignal
{
    readonly CancellationTokenSource stop = new();
    volatile bool draining;

    public CancellationToken Token => stop.Token;
    /// <summary>Draining or stopping: no new calls.</summary>
    public bool IsShuttingDown => draining || stop.IsCancellationRequested;
    public bool IsStopping => stop.IsCancellationRequested;
    public void Drain() => draining = true;

    public void Trigger()
    {
        draining = true;
        stop.Cancel();
    }
}
