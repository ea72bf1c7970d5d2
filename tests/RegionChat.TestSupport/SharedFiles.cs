namespace RegionChat.TestSupport;

/// <summary>Locates the repository root and the reference material in ../shared beside it.</summary>
public static class SharedFiles
{
    public static string RepoRoot { get; } = FindRepoRoot();

    /// <summary>The ../shared folder, or null when this clone has none beside it.</summary>
    public static string? SharedRoot
    {
        get
        {
            string p = Path.GetFullPath(Path.Combine(RepoRoot, "..", "shared"));
            return Directory.Exists(p) ? p : null;
        }
    }

    /// <summary>Path of a file under ../shared; skips the calling test when it is absent.</summary>
    public static string Require(string relative)
    {
        string? root = SharedRoot;
        Skip.If(root == null, $"needs ../shared (reference material beside the project root), absent here");
        string p = Path.Combine(root!, relative);
        Skip.IfNot(File.Exists(p) || Directory.Exists(p), $"needs ../shared/{relative}, absent here");
        return p;
    }

    static string FindRepoRoot()
    {
        var d = new DirectoryInfo(AppContext.BaseDirectory);
        while (d != null && !File.Exists(Path.Combine(d.FullName, "RegionChat.sln"))) d = d.Parent;
        return d?.FullName ?? throw new InvalidOperationException("RegionChat.sln not found above " + AppContext.BaseDirectory);
    }
}

/// <summary>A temporary folder deleted on dispose.</summary>
public sealed class TempDir : IDisposable
{
    public string Path { get; } = Directory.CreateTempSubdirectory("regionchat-test-").FullName;
    public string File(string name) => System.IO.Path.Combine(Path, name);
    public void Dispose() { try { Directory.Delete(Path, true); } catch (IOException) { } }
}
