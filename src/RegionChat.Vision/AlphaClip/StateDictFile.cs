using System.Collections;
using System.Text;
using System.Text.Json;
using RegionChat.Vision.Internal;
using TorchSharp;
using TorchSharp.PyBridge;
using static TorchSharp.torch;

namespace RegionChat.Vision;

/// <summary>
/// Reads and writes name → tensor files: torch.save pickles (.pth/.pt/.bin, zip format) and .safetensors.
/// Tensors come back on the CPU in the file's dtype; the caller owns (and may dispose) them.
/// </summary>
public static class StateDictFile
{
    /// <summary>Reads a state dict, choosing the reader by the file's contents (zip magic or a safetensors header). A file
    /// that is neither fails naming the format its extension promises and what it holds instead.</summary>
    public static Dictionary<string, Tensor> Read(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"weights file not found: {path}", path);
        if (IsZip(path)) return ReadPickle(path);
        var (found, isSafetensors) = WeightsFormat.Sniff(path);
        if (isSafetensors) return ReadSafetensors(path);
        throw new InvalidDataException($"{path}: expected {WeightsFormat.Expected(path)}, found {found}");
    }

    /// <summary>Reads a .safetensors file after checking its header against the file size (clear errors on corrupt files).</summary>
    public static Dictionary<string, Tensor> ReadSafetensors(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"safetensors file not found: {path}", path);
        SafetensorsHeader.Validate(path);
        try
        {
            return Safetensors.LoadStateDict(path, null);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            throw new InvalidDataException($"{path}: unreadable safetensors file: {e.Message}", e);
        }
    }

    /// <summary>Reads a torch.save (zip format) state dict; a dict nested under "state_dict" or "model" is unwrapped.</summary>
    public static Dictionary<string, Tensor> ReadPickle(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"torch.save file not found: {path}", path);
        if (!IsZip(path))
            throw new InvalidDataException($"{path}: expected a zip-format torch.save file (PyTorch ≥ 1.6; or convert it to .safetensors), " +
                $"found {WeightsFormat.Sniff(path).Found}");
        Hashtable table;
        try
        {
            table = PyTorchUnpickler.UnpickleStateDict(path);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            throw new InvalidDataException($"{path}: unreadable torch.save state dict ({e.GetType().Name}: {e.Message})", e);
        }
        return Tensors(table) ?? throw new InvalidDataException($"{path}: holds no tensors (expected a state dict)");

        static Dictionary<string, Tensor>? Tensors(IDictionary table)
        {
            var result = new Dictionary<string, Tensor>();
            foreach (DictionaryEntry e in table)
                if (e.Key is string name && e.Value is Tensor t) result[name] = t;
            if (result.Count > 0) return result;
            foreach (string wrapper in new[] { "state_dict", "model", "module" })
                if (table.Contains(wrapper) && table[wrapper] is IDictionary inner) return Tensors(inner);
            return null;
        }
    }

    /// <summary>
    /// Writes tensors as .safetensors in the given order (the header is padded to 8 bytes, as the reference writer does).
    /// Non-contiguous tensors are copied first.
    /// </summary>
    public static void WriteSafetensors(string path, IEnumerable<KeyValuePair<string, Tensor>> tensors)
    {
        var items = tensors.ToList();
        var header = new MemoryStream();
        using (var json = new Utf8JsonWriter(header))
        {
            json.WriteStartObject();
            json.WriteStartObject("__metadata__");
            json.WriteString("format", "pt");
            json.WriteEndObject();
            long offset = 0;
            foreach (var (name, t) in items)
            {
                long bytes = t.numel() * t.ElementSize;
                json.WriteStartObject(name);
                json.WriteString("dtype", SafetensorsHeader.DTypeName(t.dtype));
                json.WriteStartArray("shape");
                foreach (long d in t.shape) json.WriteNumberValue(d);
                json.WriteEndArray();
                json.WriteStartArray("data_offsets");
                json.WriteNumberValue(offset);
                json.WriteNumberValue(offset + bytes);
                json.WriteEndArray();
                json.WriteEndObject();
                offset += bytes;
            }
            json.WriteEndObject();
        }
        while (header.Length % 8 != 0) header.WriteByte((byte)' ');

        using var file = File.Create(path);
        file.Write(BitConverter.GetBytes((ulong)header.Length));
        header.Position = 0;
        header.CopyTo(file);
        foreach (var (_, t) in items)
        {
            // A fresh contiguous CPU copy, so that `bytes` covers exactly this tensor's elements.
            using var scope = NewDisposeScope();
            file.Write(t.detach().cpu().contiguous().clone().bytes);
        }
    }

    static bool IsZip(string path)
    {
        using var f = File.OpenRead(path);
        Span<byte> magic = stackalloc byte[4];
        return f.Read(magic) == 4 && magic.SequenceEqual("PK\u0003\u0004"u8);
    }
}
