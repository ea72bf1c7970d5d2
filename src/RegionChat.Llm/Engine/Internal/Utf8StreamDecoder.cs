using System.Text;

namespace RegionChat.Llm.Engine.Internal;

/// <summary>
/// Turns the bytes of successive token pieces into text without ever splitting a UTF-8 character: byte-fallback
/// tokens (&lt;0xE2&gt; &lt;0x82&gt; &lt;0xAC&gt;) deliver a character a byte at a time, so an incomplete trailing sequence is held
/// until its last byte arrives. Bytes that can never form a character come out as U+FFFD.
/// </summary>
internal sealed class Utf8StreamDecoder
{
    static readonly UTF8Encoding Utf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: false);
    byte[] buffer = new byte[64];
    int held;

    public string Push(ReadOnlySpan<byte> bytes)
    {
        if (held + bytes.Length > buffer.Length) Array.Resize(ref buffer, Math.Max(buffer.Length * 2, held + bytes.Length));
        bytes.CopyTo(buffer.AsSpan(held));
        int length = held + bytes.Length;
        int complete = CompleteLength(buffer.AsSpan(0, length));
        string text = complete == 0 ? "" : Utf8.GetString(buffer, 0, complete);
        held = length - complete;
        buffer.AsSpan(complete, held).CopyTo(buffer);
        return text;
    }

    /// <summary>Whatever is still held, as text (an unfinished character becomes U+FFFD).</summary>
    public string Flush()
    {
        string text = held == 0 ? "" : Utf8.GetString(buffer, 0, held);
        held = 0;
        return text;
    }

    /// <summary>Length of the prefix that ends on a character boundary: drops a trailing lead byte whose continuation
    /// bytes have not all arrived yet.</summary>
    internal static int CompleteLength(ReadOnlySpan<byte> bytes)
    {
        int n = bytes.Length;
        for (int i = n - 1; i >= 0 && i >= n - 4; i--)
        {
            byte b = bytes[i];
            if ((b & 0xC0) == 0x80) continue;          // continuation byte: keep looking for its lead
            if (b < 0x80) return n;                      // ASCII ends every sequence before it
            int need = b >= 0xF8 ? 1 : b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : b >= 0xC0 ? 2 : 1;
            return n - i < need ? i : n;
        }
        return n;                                        // only stray continuation bytes: nothing to wait for
    }
}
