namespace RegionChat.Llm.Engine.Internal;

/// <summary>
/// Where a JSON string's UTF-8 stands, so a constrained answer writes only well-formed UTF-8 (RFC 3629: no stray
/// continuation byte, no overlong form, no surrogate, nothing past U+10FFFF), as llama.cpp's grammars do by working on
/// code points. Otherwise a model could leave half a character that the answer shows as U+FFFD. A small value, copied
/// with the cursor's state.
/// </summary>
internal struct Utf8Scanner
{
    byte pending, low, high;

    /// <summary>Inside a character: only its continuation bytes may follow.</summary>
    public readonly bool MidCharacter => pending > 0;

    /// <summary>Takes one byte; false when it cannot come here.</summary>
    public bool Step(byte b)
    {
        if (pending > 0)
        {
            if (b < low || b > high) return false;
            pending--;
            (low, high) = (0x80, 0xBF);
            return true;
        }
        if (b < 0x80) return true;
        (pending, low, high) = b switch
        {
            >= 0xC2 and <= 0xDF => ((byte)1, (byte)0x80, (byte)0xBF),
            0xE0 => ((byte)2, (byte)0xA0, (byte)0xBF),  // below A0: an overlong form
            0xED => ((byte)2, (byte)0x80, (byte)0x9F),  // above 9F: a surrogate
            >= 0xE1 and <= 0xEF => ((byte)2, (byte)0x80, (byte)0xBF),
            0xF0 => ((byte)3, (byte)0x90, (byte)0xBF),
            >= 0xF1 and <= 0xF3 => ((byte)3, (byte)0x80, (byte)0xBF),
            0xF4 => ((byte)3, (byte)0x80, (byte)0x8F),  // above 8F: past U+10FFFF
            _ => ((byte)0, (byte)0, (byte)0),             // a continuation byte, C0, C1 or F5..FF cannot start a character
        };
        return pending > 0;
    }
}
