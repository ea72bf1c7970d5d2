using System.Text;
using System.Text.Json;
using static TorchSharp.torch;

namespace RegionChat.Vision.Internal;

/// <summary>
/// Checks a .safetensors header before any tensor is allocated: a corrupt or truncated file must give a clear
/// message, never a multi-gigabyte allocation or a native crash.
/// </summary>
internal static class SafetensorsHeader
{
    const long MaxHeaderBytes = 100L << 20;

    public static void Validate(string path)
    {
        using var f = File.OpenRead(path);
        long fileLength = f.Length;
        if (fileLength < 8) throw Bad(path, $"only {fileLength} bytes, shorter than the 8-byte header length");
        Span<byte> lenBytes = stackalloc byte[8];
        f.ReadExactly(lenBytes);
        ulong headerLength = BitConverter.ToUInt64(lenBytes);
        if (headerLength > (ulong)Math.Min(fileLength - 8, MaxHeaderBytes))
            throw Bad(path, $"header length {headerLength} exceeds the file ({fileLength} bytes) — not a safetensors file, or truncated");
        var headerBytes = new byte[headerLength];
        f.ReadExactly(headerBytes);
        long dataLength = fileLength - 8 - (long)headerLength;

        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(headerBytes);
        }
        catch (JsonException e)
        {
            throw Bad(path, "header is not valid JSON: " + e.Message);
        }
        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object) throw Bad(path, "header is not a JSON object");
            foreach (var entry in doc.RootElement.EnumerateObject())
            {
                if (entry.Name == "__metadata__") continue;
                CheckEntry(path, entry.Name, entry.Value, dataLength);
            }
        }
    }

    static void CheckEntry(string path, string name, JsonElement e, long dataLength)
    {
        if (e.ValueKind != JsonValueKind.Object
            || !e.TryGetProperty("dtype", out var dtype) || dtype.ValueKind != JsonValueKind.String
            || !e.TryGetProperty("shape", out var shape) || shape.ValueKind != JsonValueKind.Array
            || !e.TryGetProperty("data_offsets", out var offsets) || offsets.ValueKind != JsonValueKind.Array
            || offsets.GetArrayLength() != 2)
            throw Bad(path, $"entry '{name}' lacks dtype/shape/data_offsets");
        int elementSize = ElementSize(dtype.GetString()!)
            ?? throw Bad(path, $"entry '{name}' has unsupported dtype {dtype.GetString()}");
        decimal elements = 1;
        foreach (var d in shape.EnumerateArray())
        {
            if (!d.TryGetInt64(out long n) || n < 0) throw Bad(path, $"entry '{name}' has a bad shape {shape.GetRawText()}");
            elements *= n;
            if (elements > dataLength) throw Bad(path, $"entry '{name}' shape {shape.GetRawText()} is larger than the file");
        }
        if (!offsets[0].TryGetInt64(out long begin) || !offsets[1].TryGetInt64(out long end)
            || begin < 0 || end < begin || end > dataLength)
            throw Bad(path, $"entry '{name}' data_offsets {offsets.GetRawText()} fall outside the {dataLength}-byte data section (truncated file?)");
        if (end - begin != elements * elementSize)
            throw Bad(path, $"entry '{name}' holds {end - begin} bytes but shape {shape.GetRawText()} of {dtype.GetString()} needs {elements * elementSize}");
    }

    static int? ElementSize(string dtype) => dtype switch
    {
        "F64" or "I64" => 8,
        "F32" or "I32" => 4,
        "F16" or "BF16" or "I16" => 2,
        "I8" or "U8" or "BOOL" => 1,
        _ => null,
    };

    public static string DTypeName(ScalarType t) => t switch
    {
        ScalarType.Float64 => "F64",
        ScalarType.Float32 => "F32",
        ScalarType.Float16 => "F16",
        ScalarType.BFloat16 => "BF16",
        ScalarType.Int64 => "I64",
        ScalarType.Int32 => "I32",
        ScalarType.Int16 => "I16",
        ScalarType.Int8 => "I8",
        ScalarType.Byte => "U8",
        ScalarType.Bool => "BOOL",
        _ => throw new ArgumentException($"safetensors cannot store dtype {t}"),
    };

    static InvalidDataException Bad(string path, string what) => new($"{path}: {what}");
}
