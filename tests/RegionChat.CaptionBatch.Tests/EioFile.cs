namespace RegionChat.CaptionBatch.Tests;

/// <summary>A file whose read fails with EIO, as a failing disk's or a network file system's would: Linux's
/// /proc/self/mem, read at offset 0 (an address no process maps).</summary>
static class EioFile
{
    public const string Missing = "needs /proc/self/mem whose read at offset 0 fails with EIO (Linux procfs)";

    public static readonly string? Path = Probe();

    static string? Probe()
    {
        const string path = "/proc/self/mem";
        try
        {
            File.ReadAllBytes(path);
            return null;
        }
        catch (IOException e) when (e is not (FileNotFoundException or DirectoryNotFoundException))
        {
            return path;
        }
        catch (Exception)
        {
            return null;
        }
    }
}
