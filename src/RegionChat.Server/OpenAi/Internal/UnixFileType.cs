using System.Runtime.InteropServices;

namespace RegionChat.Server.OpenAi.Internal;

/// <summary>
/// The type of a file (regular, FIFO, socket, device, folder) without opening it, from Linux's statx(2): .NET reports
/// only folders and links, and opening a FIFO to find out blocks until a writer comes. struct statx has one layout on
/// every architecture; stx_mode is the 16 bits at offset 28.
/// </summary>
internal static partial class UnixFileType
{
    public const int Regular = 0x8000; // S_IFREG
    const int TypeMask = 0xF000;       // S_IFMT
    const int AtFdCwd = -100;
    const uint StatxType = 0x1;        // STATX_TYPE
    const int StatxSize = 256, ModeOffset = 28;

    [LibraryImport("libc", EntryPoint = "statx", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Statx(int dirfd, string path, int flags, uint mask, [Out] byte[] buffer);

    /// <summary>The S_IFMT bits of the file <paramref name="path"/> names (links followed); null when statx fails or is missing.</summary>
    public static int? Of(string path)
    {
        var buffer = new byte[StatxSize];
        try { return Statx(AtFdCwd, path, 0, StatxType, buffer) == 0 ? BitConverter.ToUInt16(buffer, ModeOffset) & TypeMask : null; }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException) { return null; }
    }
}
