namespace RegionChat.Cli.Pull;

/// <summary>A pull that cannot go on. <see cref="Transient"/>: the host or the network failed (a broken or stalled
/// connection, 408, 429, 5xx), so the same download may work when tried again, after <see cref="RetryAfter"/> when the
/// host said how long.</summary>
internal sealed class PullException(string message, bool transient = false, TimeSpan? retryAfter = null) : Exception(message)
{
    public bool Transient { get; } = transient;
    public TimeSpan? RetryAfter { get; } = retryAfter;
}
