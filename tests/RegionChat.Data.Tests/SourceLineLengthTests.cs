using System.Text.RegularExpressions;
using RegionChat.TestSupport;

namespace RegionChat.Data.Tests;

/// <summary>The house line length: .editorconfig's max_line_length for C#, kept by every file under src/ (generated code
/// lives in obj/ and is not read). Editors only show the limit; this test holds it.</summary>
public class SourceLineLengthTests
{
    [Fact]
    public void NoSourceLineIsLongerThanTheEditorconfigLimit()
    {
        string editorconfig = File.ReadAllText(Path.Combine(SharedFiles.RepoRoot, ".editorconfig"));
        var section = Regex.Match(editorconfig, @"^\[\*\.cs\][^\[]*", RegexOptions.Multiline).Value;
        var setting = Regex.Match(section, @"^max_line_length\s*=\s*(\d+)", RegexOptions.Multiline);
        Assert.True(setting.Success, ".editorconfig's [*.cs] section has no max_line_length");
        int limit = int.Parse(setting.Groups[1].Value);

        string src = Path.Combine(SharedFiles.RepoRoot, "src");
        var files = Directory.EnumerateFiles(src, "*.cs", SearchOption.AllDirectories)
            .Where(f => !Path.GetRelativePath(src, f).Split(Path.DirectorySeparatorChar).Any(d => d is "obj" or "bin"))
            .ToList();
        Assert.True(files.Count > 100, $"found only {files.Count} files under {src}");
        var tooLong = files
            .SelectMany(f => File.ReadAllLines(f).Select((line, i) => (File: Path.GetRelativePath(SharedFiles.RepoRoot, f), Line: i + 1, line.Length)))
            .Where(l => l.Length > limit)
            .Select(l => $"{l.File}:{l.Line} has {l.Length} columns")
            .ToList();
        Assert.True(tooLong.Count == 0, $"{tooLong.Count} lines over {limit} columns:\n" + string.Join("\n", tooLong));
    }
}
