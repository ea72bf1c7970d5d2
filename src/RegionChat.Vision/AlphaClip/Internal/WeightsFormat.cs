using System.Buffers.Binary;
using System.Text;

namespace RegionChat.Vision.Internal;

/// <summary>What a weights file holds, told from its first bytes, so a wrong or broken file is named for what it is
/// ("an HTML page", "a Git LFS pointer") next to what was expected.</summary>
internal static class WeightsFormat
{
    /// <summary>The format a file's extension promises.</summary>
    public static string Expected(string path) => Path.GetExtension(path).ToLowerInvariant() switch
    {
        ".safetensors" => "a safetensors file (an 8-byte header length, then a JSON header)",
        ".pth" or ".pt" or ".bin" or ".ckpt" => "a zip-format torch.save file (PyTorch ≥ 1.6) or a safetensors file",
        _ => "a zip-format torch.save file or a safetensors file",
    };

    /// <summary>A description of the file's contents, and whether it starts like a safetensors file.</summary>
    public static (string Found, bool IsSafetensors) Sniff(string path)
    {
        var head = new byte[64];
        long length;
        int n;
        using (var f = File.OpenRead(path))
        {
            length = f.Length;
            n = f.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
        }
        var bytes = head.AsSpan(0, n);
        if (n == 0) return ("an empty file", false);
        if (n >= 9 && bytes[8] == (byte)'{' && BinaryPrimitives.ReadUInt64LittleEndian(bytes) is var header && header > 1 && header <= (ulong)(length - 8))
            return ("a safetensors file", true);
        if (n >= 9 && bytes[8] == (byte)'{')
            return ($"a safetensors header claiming more bytes than the file's {length:N0} (truncated?)", true);
        if (bytes[0] == 0x80 && n > 1 && bytes[1] is >= 2 and <= 5)
            return ("a legacy (non-zip) pickle, as torch.save wrote before PyTorch 1.6: re-save it, or convert it to .safetensors", false);
        string text = Encoding.ASCII.GetString(bytes).TrimStart();
        if (text.StartsWith("version https://git-lfs", StringComparison.Ordinal)) return ("a Git LFS pointer, not the file itself (git lfs pull)", false);
        if (text.StartsWith('<')) return ("an HTML or XML page (a download's error page?)", false);
        if (text.StartsWith('{')) return ("JSON text", false);
        if (bytes.StartsWith("GGUF"u8)) return ("a GGUF file", false);
        return ($"{length:N0} bytes of unknown data starting {Convert.ToHexString(bytes[..Math.Min(8, n)])}", false);
    }
}
