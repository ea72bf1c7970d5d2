using System.Reflection;
using Microsoft.Extensions.Logging;
using RegionChat.Inference.Internal;
using RegionChat.Server.Internal;

namespace RegionChat.Server.Tests;

/// <summary>Every log message of the server and the core is a generated [LoggerMessage] with an event id of its own, in
/// its area's range (core 1000–1099, server 1200–1299; llama.cpp's native log is 1100–1199).</summary>
public class LogMessageTests
{
    [Fact]
    public void EveryMessageHasAUniqueEventIdInItsAreasRange()
    {
        var ids = new List<int>();
        foreach (var (type, first, last) in new[] { (typeof(CoreLog), 1000, 1099), (typeof(ServerLog), 1200, 1299) })
        {
            var methods = type.GetMethods(BindingFlags.Public | BindingFlags.Static | BindingFlags.DeclaredOnly);
            Assert.NotEmpty(methods);
            foreach (var m in methods)
            {
                var message = m.GetCustomAttribute<LoggerMessageAttribute>();
                Assert.True(message != null, $"{type.Name}.{m.Name} is not a [LoggerMessage]");
                Assert.InRange(message.EventId, first, last);
                ids.Add(message.EventId);
            }
        }
        Assert.Equal(ids.Count, ids.Distinct().Count());
    }
}
