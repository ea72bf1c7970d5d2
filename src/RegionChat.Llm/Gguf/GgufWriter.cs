using System.Text;
using RegionChat.Llm.Gguf.Internal;

namespace RegionChat.Llm.Gguf;

/// <summary>
/// Fills <paramref name="destination"/> (rowCount × ne[0] floats) with rows firstRow… of a tensor, rows being the
/// innermost dimension ne[0]. Lets a writer stream big tensors in pieces instead of holding them whole.
/// </summary>
public delegate void TensorRowsProducer(long firstRow, int rowCount, Span<float> destination);

/// <summary>
/// Writes a GGUF v3 file (little-endian): metadata first, then tensor infos, then the tensor data, each tensor padded
/// to <see cref="Alignment"/>. Tensor data is produced only while writing, one tensor (or one chunk of rows) at a time,
/// so files far larger than memory can be written.
/// </summary>
public sealed class GgufWriter
{
    public const int DefaultAlignment = 32;
    public const string AlignmentKey = "general.alignment";

    // Rows are produced and encoded in chunks of about this many floats (4 MB).
    const int ChunkFloats = 1 << 20;

    readonly List<KeyValuePair<string, GgufValue>> metadata = new();
    readonly List<PendingTensor> tensors = new();
    readonly HashSet<string> keys = new(StringComparer.Ordinal);
    readonly HashSet<string> tensorNames = new(StringComparer.Ordinal);

    /// <param name="alignment">Data alignment in bytes (a power of two); written as general.alignment when not 32.</param>
    public GgufWriter(int alignment = DefaultAlignment)
    {
        if (alignment <= 0 || (alignment & (alignment - 1)) != 0)
            throw new ArgumentOutOfRangeException(nameof(alignment), alignment, "GGUF alignment must be a positive power of two");
        Alignment = alignment;
        if (alignment != DefaultAlignment)
        {
            keys.Add(AlignmentKey);
            metadata.Add(new(AlignmentKey, GgufValue.UInt32((uint)alignment)));
        }
    }

    public int Alignment { get; }

    public int TensorCount => tensors.Count;

    public void Add(string key, GgufValue value)
    {
        ArgumentException.ThrowIfNullOrEmpty(key);
        ArgumentNullException.ThrowIfNull(value);
        if (key == AlignmentKey)
            throw new ArgumentException("general.alignment is set through the GgufWriter constructor", nameof(key));
        if (!keys.Add(key)) throw new ArgumentException($"metadata key '{key}' was already added", nameof(key));
        metadata.Add(new(key, value));
    }

    public void AddString(string key, string value) => Add(key, GgufValue.String(value));
    public void AddUInt32(string key, uint value) => Add(key, GgufValue.UInt32(value));
    public void AddInt32(string key, int value) => Add(key, GgufValue.Int32(value));
    public void AddUInt64(string key, ulong value) => Add(key, GgufValue.UInt64(value));
    public void AddInt64(string key, long value) => Add(key, GgufValue.Int64(value));
    public void AddFloat32(string key, float value) => Add(key, GgufValue.Float32(value));
    public void AddFloat64(string key, double value) => Add(key, GgufValue.Float64(value));
    public void AddBool(string key, bool value) => Add(key, GgufValue.Bool(value));

    /// <summary>A tensor whose floats are all in memory already; encoded as <paramref name="type"/> when written.</summary>
    public void AddTensor(string name, IReadOnlyList<long> ne, GgmlType type, float[] data)
    {
        ArgumentNullException.ThrowIfNull(data);
        AddTensor(name, ne, type, () => data);
    }

    /// <summary>A tensor whose floats are made by <paramref name="produce"/> only when it is written.</summary>
    public void AddTensor(string name, IReadOnlyList<long> ne, GgmlType type, Func<float[]> produce)
    {
        ArgumentNullException.ThrowIfNull(produce);
        float[]? whole = null;
        long rowLength = ne.Count > 0 ? ne[0] : 0;
        AddTensor(name, ne, type, (first, count, dst) =>
        {
            whole ??= produce();
            long elements = Elements(ne);
            if (whole.LongLength != elements)
                throw new InvalidOperationException($"tensor '{name}' has {elements} elements but its producer returned {whole.LongLength}");
            whole.AsSpan(checked((int)(first * rowLength)), dst.Length).CopyTo(dst);
            if (first + count == elements / Math.Max(1, rowLength)) whole = null; // release after the last chunk
        });
    }

    /// <summary>A tensor streamed in chunks of rows (rows are ne[0] long) as it is written.</summary>
    public void AddTensor(string name, IReadOnlyList<long> ne, GgmlType type, TensorRowsProducer produceRows)
    {
        ArgumentNullException.ThrowIfNull(produceRows);
        if (!GgmlTypeInfo.IsFloatCodec(type))
            throw new ArgumentException($"tensors can be written from floats as F32, F16, BF16 or Q8_0, not {type}", nameof(type));
        var shape = CheckShape(name, ne, type);
        tensors.Add(new PendingTensor(name, shape, type, produceRows, null));
    }

    /// <summary>A tensor given as already-encoded bytes of <paramref name="type"/> (e.g. copied from another file).</summary>
    public void AddRawTensor(string name, IReadOnlyList<long> ne, GgmlType type, Func<ReadOnlyMemory<byte>> produceBytes)
    {
        ArgumentNullException.ThrowIfNull(produceBytes);
        var shape = CheckShape(name, ne, type);
        tensors.Add(new PendingTensor(name, shape, type, null, produceBytes));
    }

    /// <summary>Writes the file; it appears under <paramref name="path"/> only once complete.</summary>
    public void Write(string path)
    {
        string full = Path.GetFullPath(path);
        string temp = full + ".partial";
        try
        {
            using (var fs = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16))
                Write(fs);
            File.Move(temp, full, overwrite: true);
        }
        finally
        {
            if (File.Exists(temp)) File.Delete(temp);
        }
    }

    public void Write(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        var output = new CountingWriter(stream);
        output.UInt32(GgufConstants.Magic);
        output.UInt32(GgufConstants.Version);
        output.UInt64((ulong)tensors.Count);
        output.UInt64((ulong)metadata.Count);
        foreach (var (key, value) in metadata)
        {
            output.String(key);
            output.UInt32((uint)value.Type);
            WriteValue(output, value);
        }

        long offset = 0;
        foreach (var t in tensors)
        {
            output.String(t.Name);
            output.UInt32((uint)t.Ne.Length);
            foreach (long n in t.Ne) output.UInt64((ulong)n);
            output.UInt32((uint)t.Type);
            output.UInt64((ulong)offset);
            offset = Align(offset + t.ByteSize);
        }
        output.Pad(Alignment);

        foreach (var t in tensors)
        {
            WriteData(output, t);
            output.Pad(Alignment);
        }
        output.Flush();
    }

    void WriteData(CountingWriter output, PendingTensor t)
    {
        long start = output.Position;
        if (t.Raw != null)
        {
            var bytes = t.Raw();
            if (bytes.Length != t.ByteSize)
                throw new InvalidOperationException($"tensor '{t.Name}' ({t.Type}) takes {t.ByteSize} bytes but its producer gave {bytes.Length}");
            output.Bytes(bytes.Span);
            return;
        }

        long rowLength = t.Ne[0];
        long rows = t.ElementCount / rowLength;
        int rowsPerChunk = (int)Math.Clamp(ChunkFloats / rowLength, 1, rows);
        var floats = new float[rowsPerChunk * rowLength];
        var encoded = new byte[GgmlTypeInfo.RowBytes(t.Type, rowsPerChunk * rowLength)];
        for (long first = 0; first < rows; first += rowsPerChunk)
        {
            int count = (int)Math.Min(rowsPerChunk, rows - first);
            var f = floats.AsSpan(0, checked((int)(count * rowLength)));
            var e = encoded.AsSpan(0, checked((int)GgmlTypeInfo.RowBytes(t.Type, f.Length)));
            t.Rows!(first, count, f);
            EncodeRows(t.Type, floats, encoded, count, rowLength);
            output.Bytes(e);
        }
        if (output.Position - start != t.ByteSize) throw new InvalidOperationException($"internal: tensor '{t.Name}' size mismatch");
    }

    // Encodes rows in parallel slices: quantising a 1B-parameter model is otherwise one core's work.
    static void EncodeRows(GgmlType type, float[] floats, byte[] encoded, int rows, long rowLength)
    {
        long rowBytes = GgmlTypeInfo.RowBytes(type, rowLength);
        int slices = Math.Min(rows, Environment.ProcessorCount * 2);
        if (type == GgmlType.F32 || slices <= 1 || rows * rowLength < 1 << 16)
        {
            GgmlCodec.Encode(type, floats.AsSpan(0, (int)(rows * rowLength)), encoded.AsSpan(0, (int)(rows * rowBytes)));
            return;
        }
        Parallel.For(0, slices, s =>
        {
            int from = (int)((long)rows * s / slices), to = (int)((long)rows * (s + 1) / slices);
            GgmlCodec.Encode(type, floats.AsSpan((int)(from * rowLength), (int)((to - from) * rowLength)),
                encoded.AsSpan((int)(from * rowBytes), (int)((to - from) * rowBytes)));
        });
    }

    static void WriteValue(CountingWriter output, GgufValue value)
    {
        switch (value.Type)
        {
            case GgufValueType.Array:
                var array = (Array)value.Value;
                output.UInt32((uint)value.ElementType);
                output.UInt64((ulong)array.Length);
                WriteArrayElements(output, value.ElementType, array);
                break;
            default:
                WriteScalar(output, value.Type, value.Value);
                break;
        }
    }

    static void WriteArrayElements(CountingWriter output, GgufValueType elementType, Array array)
    {
        if (elementType == GgufValueType.Array)
        {
            foreach (GgufValue inner in (GgufValue[])array) WriteValue(output, inner);
            return;
        }
        foreach (object item in array) WriteScalar(output, elementType, item);
    }

    static void WriteScalar(CountingWriter output, GgufValueType type, object v)
    {
        switch (type)
        {
            case GgufValueType.UInt8: output.Byte((byte)v); break;
            case GgufValueType.Int8: output.Byte(unchecked((byte)(sbyte)v)); break;
            case GgufValueType.UInt16: output.UInt16((ushort)v); break;
            case GgufValueType.Int16: output.UInt16(unchecked((ushort)(short)v)); break;
            case GgufValueType.UInt32: output.UInt32((uint)v); break;
            case GgufValueType.Int32: output.UInt32(unchecked((uint)(int)v)); break;
            case GgufValueType.Float32: output.UInt32(BitConverter.SingleToUInt32Bits((float)v)); break;
            case GgufValueType.Bool: output.Byte((bool)v ? (byte)1 : (byte)0); break;
            case GgufValueType.String: output.String((string)v); break;
            case GgufValueType.UInt64: output.UInt64((ulong)v); break;
            case GgufValueType.Int64: output.UInt64(unchecked((ulong)(long)v)); break;
            case GgufValueType.Float64: output.UInt64(BitConverter.DoubleToUInt64Bits((double)v)); break;
            default: throw new InvalidOperationException($"internal: scalar of type {type}");
        }
    }

    long[] CheckShape(string name, IReadOnlyList<long> ne, GgmlType type)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(ne);
        if (Encoding.UTF8.GetByteCount(name) >= GgufConstants.MaxTensorNameBytes)
            throw new ArgumentException($"tensor name '{name}' is longer than ggml's {GgufConstants.MaxTensorNameBytes - 1} bytes", nameof(name));
        if (ne.Count is < 1 or > GgufConstants.MaxDims)
            throw new ArgumentException($"tensor '{name}' has {ne.Count} dimensions; ggml allows 1 to {GgufConstants.MaxDims}", nameof(ne));
        foreach (long n in ne)
            if (n <= 0) throw new ArgumentException($"tensor '{name}' has a dimension of {n}", nameof(ne));
        if (!GgmlTypeInfo.IsKnown(type)) throw new ArgumentException($"unknown ggml type {(uint)type}", nameof(type));
        _ = checked(Elements(ne));
        _ = GgmlTypeInfo.RowBytes(type, ne[0]); // throws when a row is not whole blocks
        if (!tensorNames.Add(name)) throw new ArgumentException($"tensor '{name}' was already added", nameof(name));
        return ne.ToArray();
    }

    static long Elements(IReadOnlyList<long> ne)
    {
        long n = 1;
        foreach (long d in ne) n = checked(n * d);
        return n;
    }

    long Align(long x) => (x + Alignment - 1) / Alignment * Alignment;

    sealed record PendingTensor(string Name, long[] Ne, GgmlType Type, TensorRowsProducer? Rows, Func<ReadOnlyMemory<byte>>? Raw)
    {
        public long ElementCount => Elements(Ne);
        public long ByteSize => GgmlTypeInfo.RowBytes(Type, Ne[0]) * (ElementCount / Ne[0]);
    }
}
