using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace RegionChat.Server.Internal;

/// <summary>
/// Applies a "Kestrel:Limits" configuration section to Kestrel's limits. ASP.NET reads only endpoints and certificates
/// from the "Kestrel" section, so without this a deployer's limits (HTTP/2 streams per connection, keep-alive, …) are
/// silently ignored.
/// </summary>
internal static class KestrelLimitsSection
{
    public static void Apply(IConfigurationSection section, KestrelServerLimits limits)
    {
        if (!section.Exists()) return;
        section.Bind(limits);
        // The binder cannot build MinDataRate (no setters, no parameterless constructor): these two are read by hand.
        limits.MinRequestBodyDataRate = Rate(section.GetSection(nameof(limits.MinRequestBodyDataRate)), limits.MinRequestBodyDataRate);
        limits.MinResponseDataRate = Rate(section.GetSection(nameof(limits.MinResponseDataRate)), limits.MinResponseDataRate);
    }

    /// <summary>The rate a section sets (BytesPerSecond 0 = no minimum), or the current one when it sets none.</summary>
    static MinDataRate? Rate(IConfigurationSection section, MinDataRate? current)
    {
        if (!section.Exists()) return current;
        double bytesPerSecond = section.GetValue(nameof(MinDataRate.BytesPerSecond), current?.BytesPerSecond ?? 0);
        var grace = section.GetValue(nameof(MinDataRate.GracePeriod), current?.GracePeriod ?? TimeSpan.FromSeconds(5));
        return bytesPerSecond > 0 ? new MinDataRate(bytesPerSecond, grace) : null;
    }
}
