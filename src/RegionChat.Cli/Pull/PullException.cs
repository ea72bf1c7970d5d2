namespace RegionChat.Cli.Pull;

/// <summary>A pull that cannot complete; the message names the file and says what was kept.</summary>
internal sealed class PullException(string message) : Exception(message);
