using System.Buffers.Binary;
using System.IO.Compression;
using SixLabors.ImageSharp.Formats;
using SixLabors.ImageSharp.Formats.Bmp;
using SixLabors.ImageSharp.Formats.Gif;
using SixLabors.ImageSharp.Formats.Jpeg;
using SixLabors.ImageSharp.Formats.Png;
using SixLabors.ImageSharp.Formats.Webp;

namespace RegionChat.Vision.Imaging.Internal;

/// <summary>
/// Walks the container structure of an encoded image to find truncation before decoding. ImageSharp 2.x decodes a cut-off
/// PNG or JPEG without complaint (the missing part comes out grey or black), so completeness is checked here.
/// </summary>
internal static class ContainerCheck
{
    static InvalidImageException Truncated(string format, string what) =>
        new(InvalidImageReason.Truncated, $"{format} image is truncated: {what}");

    static InvalidImageException Corrupt(string format, string what) =>
        new(InvalidImageReason.Corrupt, $"{format} image is corrupt: {what}");

    /// <summary>
    /// Cheap structural checks (no decompression), safe to run before the pixel limit: a file cut short fails here as
    /// <see cref="InvalidImageReason.Truncated"/>.
    /// </summary>
    public static void Structure(IImageFormat format, ReadOnlySpan<byte> data)
    {
        switch (format)
        {
            case PngFormat: PngChunks(data); break;
            case JpegFormat: Jpeg(data); break;
            case WebpFormat: Webp(data); break;
            case GifFormat: Gif(data); break;
            case BmpFormat: Bmp(data); break;
        }
    }

    /// <summary>Everything <see cref="Structure"/> checks, plus that a PNG's image data inflates to every declared row.</summary>
    public static void Complete(IImageFormat format, ReadOnlySpan<byte> data)
    {
        if (format is PngFormat) PngData(data, PngChunks(data));
        else Structure(format, data);
    }

    /// <summary>
    /// The PNG without its text and ICC chunks (tEXt, zTXt, iTXt, iCCP), which nothing here reads: ImageSharp inflates
    /// compressed text while it reads the header, before any limit, so a megabyte of zTXt could become gigabytes.
    /// Returns <paramref name="data"/> itself when it has none. Call after <see cref="Structure"/> passed.
    /// </summary>
    public static byte[] PngWithoutText(byte[] data)
    {
        static bool Dropped(ReadOnlySpan<byte> type) =>
            type.SequenceEqual("tEXt"u8) || type.SequenceEqual("zTXt"u8) || type.SequenceEqual("iTXt"u8) || type.SequenceEqual("iCCP"u8);
        var kept = new List<(int Start, int Length)>();
        bool any = false;
        int pos = 8;
        while (pos + 8 <= data.Length)
        {
            int end = pos + 12 + (int)BinaryPrimitives.ReadUInt32BigEndian(data.AsSpan(pos));
            if (Dropped(data.AsSpan(pos + 4, 4))) any = true;
            else kept.Add((pos, end - pos));
            if (data.AsSpan(pos + 4, 4).SequenceEqual("IEND"u8)) break;
            pos = end;
        }
        if (!any) return data;
        var stripped = new byte[8 + kept.Sum(k => k.Length)];
        data.AsSpan(0, 8).CopyTo(stripped);
        int at = 8;
        foreach (var (start, length) in kept)
        {
            data.AsSpan(start, length).CopyTo(stripped.AsSpan(at));
            at += length;
        }
        return stripped;
    }

    /// <summary>PNG: chunks (length, type, data, CRC) must follow each other up to IEND; returns the IDAT payloads.</summary>
    static List<(int Start, int Length)> PngChunks(ReadOnlySpan<byte> data)
    {
        long pos = 8; // signature
        var idat = new List<(int Start, int Length)>();
        while (true)
        {
            if (pos + 8 > data.Length) throw Truncated("PNG", "the file ends before the IEND chunk");
            uint length = BinaryPrimitives.ReadUInt32BigEndian(data[(int)pos..]);
            if (length > int.MaxValue) throw Corrupt("PNG", $"chunk length {length} at byte {pos} is out of range");
            var type = data.Slice((int)pos + 4, 4);
            long end = pos + 12 + length;
            if (end > data.Length) throw Truncated("PNG", $"chunk '{System.Text.Encoding.ASCII.GetString(type)}' at byte {pos} runs past the end of the file");
            if (pos == 8 && (!type.SequenceEqual("IHDR"u8) || length < 13)) throw Corrupt("PNG", "the first chunk is not a valid IHDR");
            if (type.SequenceEqual("IDAT"u8)) idat.Add(((int)pos + 8, (int)length));
            if (type.SequenceEqual("IEND"u8)) break;
            pos = end;
        }
        if (idat.Count == 0) throw Corrupt("PNG", "no IDAT (image data) chunk before IEND");
        return idat;
    }

    /// <summary>
    /// PNG: the image data must inflate to every row the header declares (ImageSharp fills missing rows with zeros
    /// instead of failing). Runs after the pixel limit, which bounds the work.
    /// </summary>
    static void PngData(ReadOnlySpan<byte> data, List<(int Start, int Length)> idat)
    {
        long expected = PngRawSize(data.Slice(16, 13));
        var compressed = new byte[idat.Sum(c => (long)c.Length)];
        int at = 0;
        foreach (var (start, length) in idat)
        {
            data.Slice(start, length).CopyTo(compressed.AsSpan(at));
            at += length;
        }
        long inflated = 0;
        try
        {
            using var z = new ZLibStream(new MemoryStream(compressed), CompressionMode.Decompress);
            var buffer = new byte[65536];
            int n;
            while (inflated < expected && (n = z.Read(buffer, 0, buffer.Length)) > 0) inflated += n;
        }
        catch (InvalidDataException e)
        {
            throw Corrupt("PNG", $"the compressed image data is damaged ({e.Message})");
        }
        if (inflated < expected)
            throw Truncated("PNG", $"the image data holds {inflated:N0} of the {expected:N0} bytes the header declares");
    }

    /// <summary>Bytes of filtered scanlines a PNG with this IHDR must carry (filter byte + packed pixels per row, per Adam7 pass).</summary>
    static long PngRawSize(ReadOnlySpan<byte> ihdr)
    {
        long width = BinaryPrimitives.ReadUInt32BigEndian(ihdr), height = BinaryPrimitives.ReadUInt32BigEndian(ihdr[4..]);
        int bitDepth = ihdr[8], colorType = ihdr[9], interlace = ihdr[12];
        int channels = colorType switch { 0 => 1, 2 => 3, 3 => 1, 4 => 2, 6 => 4, _ => throw Corrupt("PNG", $"colour type {colorType} is not valid") };
        long bitsPerPixel = channels * bitDepth;
        long Rows(long w, long h) => w == 0 || h == 0 ? 0 : h * (1 + (w * bitsPerPixel + 7) / 8);
        if (interlace == 0) return Rows(width, height);
        ReadOnlySpan<int> adam7 = [0, 0, 8, 8, 4, 0, 8, 8, 0, 4, 4, 8, 2, 0, 4, 4, 0, 2, 2, 4, 1, 0, 2, 2, 0, 1, 1, 2];
        long total = 0;
        for (int p = 0; p < 7; p++)
        {
            int x0 = adam7[4 * p], y0 = adam7[4 * p + 1], dx = adam7[4 * p + 2], dy = adam7[4 * p + 3];
            total += Rows(Math.Max(0, (width - x0 + dx - 1) / dx), Math.Max(0, (height - y0 + dy - 1) / dy));
        }
        return total;
    }

    /// <summary>JPEG: marker segments up to the first scan, then an end-of-image marker (FF D9) somewhere after it.</summary>
    static void Jpeg(ReadOnlySpan<byte> data)
    {
        int pos = 2; // SOI
        while (true)
        {
            // Markers may be preceded by any number of FF fill bytes.
            if (pos >= data.Length || data[pos] != 0xFF)
            {
                if (pos >= data.Length) throw Truncated("JPEG", "the file ends before the image scan");
                throw Corrupt("JPEG", $"expected a marker at byte {pos}");
            }
            while (pos < data.Length && data[pos] == 0xFF) pos++;
            if (pos >= data.Length) throw Truncated("JPEG", "the file ends before the image scan");
            byte marker = data[pos++];
            if (marker == 0xD9) throw Corrupt("JPEG", "end of image before any scan");
            if (marker is 0x01 or >= 0xD0 and <= 0xD7) continue; // stand-alone markers carry no length
            if (pos + 2 > data.Length) throw Truncated("JPEG", "the file ends inside a marker segment");
            int length = BinaryPrimitives.ReadUInt16BigEndian(data[pos..]);
            if (length < 2) throw Corrupt("JPEG", $"segment length {length} at byte {pos}");
            if (pos + length > data.Length) throw Truncated("JPEG", $"segment FF{marker:X2} at byte {pos - 2} runs past the end of the file");
            pos += length;
            if (marker == 0xDA) break; // start of scan: entropy-coded data follows
        }
        // Inside entropy-coded data a literal FF is stuffed as FF 00, so FF D9 is only ever the real end marker.
        if (data[pos..].IndexOf((ReadOnlySpan<byte>)[0xFF, 0xD9]) < 0)
            throw Truncated("JPEG", "no end-of-image marker after the scan data");
    }

    /// <summary>WebP: the RIFF size must fit the data; animated WebP is refused (only stills are accepted).</summary>
    static void Webp(ReadOnlySpan<byte> data)
    {
        if (data.Length < 12) throw Truncated("WebP", "the RIFF header is incomplete");
        long riffEnd = 8L + BinaryPrimitives.ReadUInt32LittleEndian(data[4..]);
        if (riffEnd > data.Length) throw Truncated("WebP", $"the RIFF header declares {riffEnd} bytes but the file has {data.Length}");
        if (data.Length >= 21 && data.Slice(12, 4).SequenceEqual("VP8X"u8) && (data[20] & 0x02) != 0)
            throw new InvalidImageException(InvalidImageReason.Unsupported, "animated WebP is not supported: send a still image");
    }

    /// <summary>GIF: blocks must be complete up to the end of the first image (only the first frame is decoded).</summary>
    static void Gif(ReadOnlySpan<byte> data)
    {
        if (data.Length < 13) throw Truncated("GIF", "the header is incomplete");
        int pos = 13;
        byte flags = data[10];
        if ((flags & 0x80) != 0) pos += 3 << ((flags & 7) + 1);
        while (true)
        {
            if (pos >= data.Length) throw Truncated("GIF", "the file ends before the first image");
            byte block = data[pos++];
            if (block == 0x21) // extension: label, then sub-blocks
            {
                pos++;
                pos = SkipSubBlocks(data, pos);
            }
            else if (block == 0x2C) // image descriptor
            {
                if (pos + 9 > data.Length) throw Truncated("GIF", "the image descriptor is incomplete");
                byte imageFlags = data[pos + 8];
                pos += 9;
                if ((imageFlags & 0x80) != 0) pos += 3 << ((imageFlags & 7) + 1);
                pos++; // LZW minimum code size
                SkipSubBlocks(data, pos);
                return;
            }
            else if (block == 0x3B) throw Corrupt("GIF", "the file holds no image");
            else throw Corrupt("GIF", $"unknown block 0x{block:X2} at byte {pos - 1}");
        }
    }

    static int SkipSubBlocks(ReadOnlySpan<byte> data, int pos)
    {
        while (true)
        {
            if (pos >= data.Length) throw Truncated("GIF", "the file ends inside the image data");
            int size = data[pos];
            pos += 1 + size;
            if (size == 0) return pos;
        }
    }

    /// <summary>BMP: for uncompressed pixel data, the file must hold every row the header declares.</summary>
    static void Bmp(ReadOnlySpan<byte> data)
    {
        if (data.Length < 30) throw Truncated("BMP", "the header is incomplete");
        uint pixelOffset = BinaryPrimitives.ReadUInt32LittleEndian(data[10..]);
        uint headerSize = BinaryPrimitives.ReadUInt32LittleEndian(data[14..]);
        if (headerSize < 40 || data.Length < 14 + 40) return; // old OS/2 headers: leave to the decoder
        long width = BinaryPrimitives.ReadInt32LittleEndian(data[18..]);
        long height = Math.Abs((long)BinaryPrimitives.ReadInt32LittleEndian(data[22..]));
        int bitsPerPixel = BinaryPrimitives.ReadUInt16LittleEndian(data[28..]);
        uint compression = BinaryPrimitives.ReadUInt32LittleEndian(data[30..]);
        if (compression is not (0 or 3)) return; // run-length coded: size not known up front
        long stride = (width * bitsPerPixel + 31) / 32 * 4;
        long needed = pixelOffset + stride * height;
        if (needed > data.Length) throw Truncated("BMP", $"the pixel data needs {needed} bytes but the file has {data.Length}");
    }
}
