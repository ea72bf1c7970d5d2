using System.CommandLine;

namespace RegionChat.Cli.Commands;

/// <summary>Option shapes that many verbs declare the same way.</summary>
internal static class CliOptions
{
    public static Option<int> Int(string name, string description, int defaultValue) =>
        new(name) { Description = description, DefaultValueFactory = _ => defaultValue };
}
