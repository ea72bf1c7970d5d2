using System.Buffers;
using Microsoft.Win32.SafeHandles;
using RegionChat.Llm.Gguf.Internal;

namespace RegionChat.Llm.Gguf;

/// <summary>
/// A GGUF file opened for reading: header, typed metadata and tensor infos are parsed and validated on
/// <see cref="Open"/>; tensor data is read on demand. Every count and size is checked against the file's length before
/// anything is allocated for it, so a corrupt or hostile file gives a <see cref="GgufFormatException"/>, never a huge
/// allocation.
/// </summary>
public sealed class GgufFile : IDisposable
{
    const int MaxArrayNesting = 8;

    readonly SafeFileHandle handle;
    readonly Dictionary<string, GgufValue> metadata;
    readonly Dictionary<string, GgufTensorInfo> tensorsByName;

    GgufFile(string path, SafeFileHandle handle, long fileSize, uint version, List<KeyValuePair<string, GgufValue>> metadata,
        List<GgufTensorInfo> tensors, int alignment, long dataOffset)
    {
        Path = path;
        this.handle = handle;
        FileSize = fileSize;
        Version = version;
        MetadataInOrder = metadata;
        this.metadata = metadata.ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal);
        Tensors = tensors;
        tensorsByName = tensors.ToDictionary(t => t.Name, StringComparer.Ordinal);
        Alignment = alignment;
        DataOffset = dataOffset;
    }

    public string Path { get; }
    public long FileSize { get; }
    public uint Version { get; }
    public int Alignment { get; }

    /// <summary>Absolute file offset of the tensor data section.</summary>
    public long DataOffset { get; }

    public IReadOnlyDictionary<string, GgufValue> Metadata => metadata;

    /// <summary>Metadata in file order.</summary>
    public IReadOnlyList<KeyValuePair<string, GgufValue>> MetadataInOrder { get; }

    /// <summary>Tensor infos in file order.</summary>
    public IReadOnlyList<GgufTensorInfo> Tensors { get; }

    public static GgufFile Open(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        try
        {
            return Parse(path, handle);
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    public void Dispose() => handle.Dispose();

    public bool Contains(string key) => metadata.ContainsKey(key);

    public GgufValue Get(string key) =>
        metadata.TryGetValue(key, out var v) ? v : throw new KeyNotFoundException($"GGUF metadata key '{key}' is absent in {Path}");

    public bool TryGet(string key, out GgufValue value) => metadata.TryGetValue(key, out value!);

    public string GetString(string key) => Typed(key, v => v.AsString());
    public bool GetBool(string key) => Typed(key, v => v.AsBool());

    /// <summary>Any integer metadata type, range-checked into uint.</summary>
    public uint GetUInt32(string key) => Typed(key, v => checked((uint)v.ToInt64()));

    /// <summary>Any integer metadata type, range-checked into int.</summary>
    public int GetInt32(string key) => Typed(key, v => checked((int)v.ToInt64()));

    /// <summary>Any integer metadata type as long.</summary>
    public long GetInt64(string key) => Typed(key, v => v.ToInt64());

    /// <summary>A float32 or float64 (or integer) value as float.</summary>
    public float GetFloat32(string key) => Typed(key, v => (float)v.ToDouble());
    public double GetFloat64(string key) => Typed(key, v => v.ToDouble());

    /// <summary>An array whose element type maps exactly to T (float[] for Float32, string[] for String, …).</summary>
    public T[] GetArray<T>(string key) => Typed(key, v => v.AsArray<T>());
    public string[] GetStringArray(string key) => GetArray<string>(key);

    public string? GetStringOrNull(string key) => metadata.TryGetValue(key, out var v) ? Typed(key, _ => v.AsString()) : null;
    public long? GetInt64OrNull(string key) => metadata.TryGetValue(key, out var v) ? Typed(key, _ => v.ToInt64()) : null;
    public double? GetFloat64OrNull(string key) => metadata.TryGetValue(key, out var v) ? Typed(key, _ => v.ToDouble()) : null;
    public bool? GetBoolOrNull(string key) => metadata.TryGetValue(key, out var v) ? Typed(key, _ => v.AsBool()) : null;

    public GgufTensorInfo GetTensorInfo(string name) =>
        tensorsByName.TryGetValue(name, out var t) ? t : throw new KeyNotFoundException($"tensor '{name}' is absent in {Path}");

    public bool TryGetTensorInfo(string name, out GgufTensorInfo info) => tensorsByName.TryGetValue(name, out info!);

    /// <summary>The tensor's encoded bytes as stored.</summary>
    public byte[] ReadTensorBytes(string name)
    {
        var t = GetTensorInfo(name);
        if (t.ByteSize > Array.MaxLength) throw new NotSupportedException($"tensor '{name}' has {t.ByteSize} bytes, more than one array holds");
        var bytes = new byte[t.ByteSize];
        ReadExactly(DataOffset + t.Offset, bytes);
        return bytes;
    }

    /// <summary>The whole tensor decoded to floats (F32, F16, BF16, Q8_0), row-major with ne[0] innermost.</summary>
    public float[] ReadTensor(string name)
    {
        var t = GetTensorInfo(name);
        if (t.ElementCount > Array.MaxLength) throw new NotSupportedException($"tensor '{name}' has {t.ElementCount} elements, more than one array holds");
        var result = new float[t.ElementCount];
        long rows = t.Ne[0] == 0 ? 0 : t.ElementCount / t.Ne[0];
        if (rows > 0) ReadTensorRows(name, 0, checked((int)rows), result);
        return result;
    }

    /// <summary>Rows firstRow… of the tensor (rows are ne[0] long) decoded into destination (rowCount × ne[0]).</summary>
    public void ReadTensorRows(string name, long firstRow, int rowCount, Span<float> destination)
    {
        var t = GetTensorInfo(name);
        if (!GgmlTypeInfo.CanDecode(t.Type))
            throw new NotSupportedException($"tensor '{name}' is {t.Type}; decoding supports F32, F16, BF16, Q8_0, Q4_K, Q5_K and Q6_K");
        long rowLength = t.Ne[0];
        long rows = rowLength == 0 ? 0 : t.ElementCount / rowLength;
        if (firstRow < 0 || rowCount < 0 || firstRow + rowCount > rows)
            throw new ArgumentOutOfRangeException(nameof(firstRow), $"rows {firstRow}..{firstRow + rowCount} are outside tensor '{name}' ({rows} rows)");
        if (destination.Length != rowCount * rowLength)
            throw new ArgumentException($"destination holds {destination.Length} floats, {rowCount} rows need {rowCount * rowLength}");
        long rowBytes = GgmlTypeInfo.RowBytes(t.Type, rowLength);
        // Decode in slices of about 4 MB so a big tensor does not need its bytes and floats whole at once.
        int rowsPerSlice = (int)Math.Clamp((4 << 20) / Math.Max(1, rowBytes), 1, Math.Max(1, rowCount));
        // Pooled: the engine reads single token rows this way on every step that injects an image (TokenEmbeddingRows).
        var buffer = ArrayPool<byte>.Shared.Rent((int)(rowsPerSlice * rowBytes));
        try
        {
            for (int done = 0; done < rowCount; done += rowsPerSlice)
            {
                int n = Math.Min(rowsPerSlice, rowCount - done);
                var bytes = buffer.AsSpan(0, (int)(n * rowBytes));
                ReadExactly(DataOffset + t.Offset + (firstRow + done) * rowBytes, bytes);
                GgmlCodec.Decode(t.Type, bytes, destination.Slice((int)(done * rowLength), (int)(n * rowLength)));
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    void ReadExactly(long fileOffset, Span<byte> destination)
    {
        for (int done = 0; done < destination.Length;)
        {
            int got = RandomAccess.Read(handle, destination[done..], fileOffset + done);
            if (got <= 0) throw new GgufFormatException($"GGUF file {Path} ended early at byte {fileOffset + done} while reading tensor data");
            done += got;
        }
    }

    T Typed<T>(string key, Func<GgufValue, T> convert)
    {
        var v = Get(key);
        try
        {
            return convert(v);
        }
        catch (Exception e) when (e is InvalidCastException or OverflowException)
        {
            throw new InvalidCastException($"GGUF metadata '{key}' ({(v.IsArray ? $"array of {v.ElementType}" : v.Type)}) cannot be read " +
                $"as {typeof(T).Name}: {e.Message}", e);
        }
    }

    static GgufFile Parse(string path, SafeFileHandle handle)
    {
        long length = RandomAccess.GetLength(handle);
        var r = new BoundedFileReader(handle, length);
        if (length < 24) throw new GgufFormatException($"{path} is not a GGUF file: {length} bytes is shorter than the 24-byte header");

        uint magic = r.UInt32();
        if (magic != GgufConstants.Magic)
            throw new GgufFormatException($"{path} is not a GGUF file: magic bytes are {FormatMagic(magic)}, expected \"GGUF\"");
        uint version = r.UInt32();
        if (version is 0x02000000 or 0x03000000)
            throw new GgufFormatException($"{path} is a big-endian GGUF file; only little-endian is supported");
        if (version is not (2 or 3))
            throw new GgufFormatException($"{path} has GGUF version {version}; versions 2 and 3 are supported");

        ulong tensorCount = r.UInt64();
        ulong kvCount = r.UInt64();
        // Each metadata pair takes >= 13 bytes (key length, type, one value byte); each tensor info >= 32.
        r.RequireRoomFor(kvCount, 13, "metadata count");
        r.RequireRoomFor(tensorCount, 32, "tensor count");

        var metadata = new List<KeyValuePair<string, GgufValue>>((int)kvCount);
        var keys = new HashSet<string>(StringComparer.Ordinal);
        for (ulong i = 0; i < kvCount; i++)
        {
            r.Context = $"metadata pair {i}";
            string key = r.String();
            r.Context = $"metadata '{key}'";
            if (!keys.Add(key)) throw r.Fail("duplicate metadata key");
            var type = (GgufValueType)r.UInt32();
            metadata.Add(new(key, ReadValue(r, type, 0)));
        }

        int alignment = GgufWriter.DefaultAlignment;
        var alignmentValue = metadata.FirstOrDefault(kv => kv.Key == GgufWriter.AlignmentKey).Value;
        if (alignmentValue != null)
        {
            if (alignmentValue.Type != GgufValueType.UInt32)
                throw new GgufFormatException($"{path}: general.alignment must be a uint32, found {alignmentValue.Type}");
            uint a = (uint)alignmentValue.Value;
            if (a == 0 || (a & (a - 1)) != 0 || a > 1 << 20)
                throw new GgufFormatException($"{path}: general.alignment {a} is not a power of two up to 1 MiB");
            alignment = (int)a;
        }

        var tensors = new List<(string Name, long[] Ne, GgmlType Type, ulong Offset, long Bytes)>((int)tensorCount);
        var names = new HashSet<string>(StringComparer.Ordinal);
        for (ulong i = 0; i < tensorCount; i++)
        {
            r.Context = $"tensor info {i}";
            string name = r.String();
            r.Context = $"tensor info '{name}'";
            if (!names.Add(name)) throw r.Fail("duplicate tensor name");
            uint dims = r.UInt32();
            if (dims is < 1 or > GgufConstants.MaxDims) throw r.Fail($"{dims} dimensions; ggml allows 1 to {GgufConstants.MaxDims}");
            var ne = new long[dims];
            long elements = 1;
            for (int d = 0; d < dims; d++)
            {
                ulong n = r.UInt64();
                if (n > long.MaxValue) throw r.Fail($"dimension {d} is {n}");
                ne[d] = (long)n;
                // No tensor can hold more elements than the file has bits; stops overflow of the product early.
                if (n != 0 && elements > length * 8 / (long)n) throw r.Fail($"shape [{string.Join(", ", ne.Take(d + 1))}] is larger than the file could hold");
                elements *= (long)n;
            }
            uint typeCode = r.UInt32();
            var type = (GgmlType)typeCode;
            if (!GgmlTypeInfo.IsKnown(type)) throw r.Fail($"unknown ggml tensor type {typeCode}");
            int block = GgmlTypeInfo.BlockSize(type);
            if (ne[0] % block != 0) throw r.Fail($"row length {ne[0]} is not a multiple of {type}'s block size {block}");
            long bytes = ne[0] == 0 ? 0 : ne[0] / block * GgmlTypeInfo.TypeSize(type) * (elements / ne[0]);
            ulong offset = r.UInt64();
            if (offset % (ulong)alignment != 0) throw r.Fail($"data offset {offset} is not a multiple of the alignment {alignment}");
            tensors.Add((name, ne, type, offset, bytes));
        }

        r.Context = "tensor data";
        long dataOffset = (r.Position + alignment - 1) / alignment * alignment;
        if (tensorCount > 0 && dataOffset > length)
            throw new GgufFormatException($"{path}: the tensor data section would start at byte {dataOffset}, past the end of the file ({length} bytes)");
        var infos = new List<GgufTensorInfo>(tensors.Count);
        foreach (var t in tensors)
        {
            if (t.Offset > (ulong)(length - Math.Min(dataOffset, length)) || (long)t.Offset + t.Bytes > length - dataOffset)
                throw new GgufFormatException(
                    $"{path}: tensor '{t.Name}' data at data offset {t.Offset} (+{t.Bytes} bytes) extends past the end of the file ({length} bytes, data " +
                    $"starts at {dataOffset}); the file is truncated or corrupt");
            infos.Add(new GgufTensorInfo(t.Name, t.Ne, t.Type, (long)t.Offset, t.Bytes));
        }
        return new GgufFile(path, handle, length, version, metadata, infos, alignment, dataOffset);
    }

    static GgufValue ReadValue(BoundedFileReader r, GgufValueType type, int depth) => type switch
    {
        GgufValueType.UInt8 => GgufValue.UInt8(r.Byte()),
        GgufValueType.Int8 => GgufValue.Int8(unchecked((sbyte)r.Byte())),
        GgufValueType.UInt16 => GgufValue.UInt16(r.UInt16()),
        GgufValueType.Int16 => GgufValue.Int16(unchecked((short)r.UInt16())),
        GgufValueType.UInt32 => GgufValue.UInt32(r.UInt32()),
        GgufValueType.Int32 => GgufValue.Int32(unchecked((int)r.UInt32())),
        GgufValueType.Float32 => GgufValue.Float32(BitConverter.UInt32BitsToSingle(r.UInt32())),
        GgufValueType.Bool => GgufValue.Bool(ReadBool(r)),
        GgufValueType.String => GgufValue.String(r.String()),
        GgufValueType.UInt64 => GgufValue.UInt64(r.UInt64()),
        GgufValueType.Int64 => GgufValue.Int64(unchecked((long)r.UInt64())),
        GgufValueType.Float64 => GgufValue.Float64(BitConverter.UInt64BitsToDouble(r.UInt64())),
        GgufValueType.Array => ReadArray(r, depth),
        _ => throw r.Fail($"unknown metadata value type {(uint)type}"),
    };

    static bool ReadBool(BoundedFileReader r)
    {
        byte b = r.Byte();
        return b <= 1 ? b == 1 : throw r.Fail($"bool value {b} is neither 0 nor 1");
    }

    static GgufValue ReadArray(BoundedFileReader r, int depth)
    {
        if (depth >= MaxArrayNesting) throw r.Fail($"arrays nested deeper than {MaxArrayNesting}");
        var elementType = (GgufValueType)r.UInt32();
        ulong count = r.UInt64();
        int minSize = elementType switch
        {
            GgufValueType.UInt8 or GgufValueType.Int8 or GgufValueType.Bool => 1,
            GgufValueType.UInt16 or GgufValueType.Int16 => 2,
            GgufValueType.UInt32 or GgufValueType.Int32 or GgufValueType.Float32 => 4,
            GgufValueType.UInt64 or GgufValueType.Int64 or GgufValueType.Float64 or GgufValueType.String => 8,
            GgufValueType.Array => 12,
            _ => throw r.Fail($"unknown array element type {(uint)elementType}"),
        };
        r.RequireRoomFor(count, minSize, "array length");
        int n = (int)count; // fits: bounded by the file length / minSize checked above... and by Array.MaxLength below
        if (count > (ulong)Array.MaxLength) throw r.Fail($"array length {count} is too large");
        switch (elementType)
        {
            case GgufValueType.UInt8: { var a = new byte[n]; for (int i = 0; i < n; i++) a[i] = r.Byte(); return GgufValue.Array(a); }
            case GgufValueType.Int8: { var a = new sbyte[n]; for (int i = 0; i < n; i++) a[i] = unchecked((sbyte)r.Byte()); return GgufValue.Array(a); }
            case GgufValueType.UInt16: { var a = new ushort[n]; for (int i = 0; i < n; i++) a[i] = r.UInt16(); return GgufValue.Array(a); }
            case GgufValueType.Int16: { var a = new short[n]; for (int i = 0; i < n; i++) a[i] = unchecked((short)r.UInt16()); return GgufValue.Array(a); }
            case GgufValueType.UInt32: { var a = new uint[n]; for (int i = 0; i < n; i++) a[i] = r.UInt32(); return GgufValue.Array(a); }
            case GgufValueType.Int32: { var a = new int[n]; for (int i = 0; i < n; i++) a[i] = unchecked((int)r.UInt32()); return GgufValue.Array(a); }
            case GgufValueType.Float32:
                { var a = new float[n]; for (int i = 0; i < n; i++) a[i] = BitConverter.UInt32BitsToSingle(r.UInt32()); return GgufValue.Array(a); }
            case GgufValueType.Bool: { var a = new bool[n]; for (int i = 0; i < n; i++) a[i] = ReadBool(r); return GgufValue.Array(a); }
            case GgufValueType.String: { var a = new string[n]; for (int i = 0; i < n; i++) a[i] = r.String(); return GgufValue.Array(a); }
            case GgufValueType.UInt64: { var a = new ulong[n]; for (int i = 0; i < n; i++) a[i] = r.UInt64(); return GgufValue.Array(a); }
            case GgufValueType.Int64: { var a = new long[n]; for (int i = 0; i < n; i++) a[i] = unchecked((long)r.UInt64()); return GgufValue.Array(a); }
            case GgufValueType.Float64:
                { var a = new double[n]; for (int i = 0; i < n; i++) a[i] = BitConverter.UInt64BitsToDouble(r.UInt64()); return GgufValue.Array(a); }
            default:
            {
                var a = new GgufValue[n];
                for (int i = 0; i < n; i++)
                {
                    var inner = ReadValue(r, GgufValueType.Array, depth + 1);
                    a[i] = inner;
                }
                return GgufValue.Array(a);
            }
        }
    }

    static string FormatMagic(uint magic)
    {
        var b = BitConverter.GetBytes(magic);
        return string.Join(" ", b.Select(x => x.ToString("X2")));
    }
}
