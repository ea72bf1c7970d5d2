using System.CommandLine;

namespace RegionChat.Cli.Commands;

/// <summary>Option shapes that many verbs declare the same way.</summary>
internal static class CliOptions
{
    public static Option<int> Int(string name, string description, int defaultValue) =>
        new(name) { Description = description, DefaultValueFactory = _ => defaultValue };

    /// <summary>An option's value when it lies in [min, max]; else the bad-argument error naming the option.</summary>
    public static int Check(int v, int min, int max, string name) =>
        v >= min && v <= max ? v : throw new ArgumentException($"{name} must be in [{min}, {max}], got {v}");

    /// <summary>A format file's text, refused before it is read when it is far larger than any format may be.</summary>
    public static string SmallFile(FileInfo file, string option)
    {
        if (!file.Exists) throw new ArgumentException($"{option}: file '{file.FullName}' not found");
        const long limit = 1 << 20;
        if (file.Length > limit) throw new ArgumentException($"{option}: '{file.FullName}' is {file.Length} bytes; the limit is {limit}");
        return File.ReadAllText(file.FullName);
    }
}
