using System.Globalization;

namespace RegionChat.Llm.Gguf;

/// <summary>
/// One typed GGUF metadata value. Scalars hold the matching CLR value (byte, sbyte, ushort, short, uint, int, float, bool,
/// string, ulong, long, double); arrays hold a CLR array of that element type (string[] for strings, GgufValue[] for
/// arrays of arrays).
/// </summary>
public sealed class GgufValue
{
    GgufValue(GgufValueType type, GgufValueType elementType, object value)
    {
        Type = type;
        ElementType = elementType;
        Value = value;
    }

    public GgufValueType Type { get; }

    /// <summary>For arrays, the type of the elements; for scalars, the same as <see cref="Type"/>.</summary>
    public GgufValueType ElementType { get; }

    public object Value { get; }

    public bool IsArray => Type == GgufValueType.Array;

    public int ArrayLength => IsArray ? ((Array)Value).Length : throw NotA("an array");

    public static GgufValue UInt8(byte v) => new(GgufValueType.UInt8, GgufValueType.UInt8, v);
    public static GgufValue Int8(sbyte v) => new(GgufValueType.Int8, GgufValueType.Int8, v);
    public static GgufValue UInt16(ushort v) => new(GgufValueType.UInt16, GgufValueType.UInt16, v);
    public static GgufValue Int16(short v) => new(GgufValueType.Int16, GgufValueType.Int16, v);
    public static GgufValue UInt32(uint v) => new(GgufValueType.UInt32, GgufValueType.UInt32, v);
    public static GgufValue Int32(int v) => new(GgufValueType.Int32, GgufValueType.Int32, v);
    public static GgufValue Float32(float v) => new(GgufValueType.Float32, GgufValueType.Float32, v);
    public static GgufValue Bool(bool v) => new(GgufValueType.Bool, GgufValueType.Bool, v);
    public static GgufValue String(string v) => new(GgufValueType.String, GgufValueType.String, v ?? throw new ArgumentNullException(nameof(v)));
    public static GgufValue UInt64(ulong v) => new(GgufValueType.UInt64, GgufValueType.UInt64, v);
    public static GgufValue Int64(long v) => new(GgufValueType.Int64, GgufValueType.Int64, v);
    public static GgufValue Float64(double v) => new(GgufValueType.Float64, GgufValueType.Float64, v);

    public static GgufValue Array(byte[] v) => Arr(GgufValueType.UInt8, v);
    public static GgufValue Array(sbyte[] v) => Arr(GgufValueType.Int8, v);
    public static GgufValue Array(ushort[] v) => Arr(GgufValueType.UInt16, v);
    public static GgufValue Array(short[] v) => Arr(GgufValueType.Int16, v);
    public static GgufValue Array(uint[] v) => Arr(GgufValueType.UInt32, v);
    public static GgufValue Array(int[] v) => Arr(GgufValueType.Int32, v);
    public static GgufValue Array(float[] v) => Arr(GgufValueType.Float32, v);
    public static GgufValue Array(bool[] v) => Arr(GgufValueType.Bool, v);
    public static GgufValue Array(string[] v)
    {
        ArgumentNullException.ThrowIfNull(v);
        if (System.Array.Exists(v, s => s is null)) throw new ArgumentException("a GGUF string array cannot hold null", nameof(v));
        return Arr(GgufValueType.String, v);
    }
    public static GgufValue Array(ulong[] v) => Arr(GgufValueType.UInt64, v);
    public static GgufValue Array(long[] v) => Arr(GgufValueType.Int64, v);
    public static GgufValue Array(double[] v) => Arr(GgufValueType.Float64, v);

    /// <summary>An array whose elements are themselves arrays (allowed by the GGUF spec, rare in practice).</summary>
    public static GgufValue Array(GgufValue[] arrays)
    {
        ArgumentNullException.ThrowIfNull(arrays);
        foreach (var a in arrays)
            if (a is null || !a.IsArray) throw new ArgumentException("an array of arrays must hold only arrays", nameof(arrays));
        return Arr(GgufValueType.Array, arrays);
    }

    static GgufValue Arr(GgufValueType elementType, Array v) =>
        new(GgufValueType.Array, elementType, v ?? throw new ArgumentNullException(nameof(v)));

    public string AsString() => Type == GgufValueType.String ? (string)Value : throw NotA("a string");

    public bool AsBool() => Type == GgufValueType.Bool ? (bool)Value : throw NotA("a bool");

    /// <summary>Any integer scalar as long (a uint64 above long.MaxValue throws).</summary>
    public long ToInt64() => Type switch
    {
        GgufValueType.UInt8 => (byte)Value,
        GgufValueType.Int8 => (sbyte)Value,
        GgufValueType.UInt16 => (ushort)Value,
        GgufValueType.Int16 => (short)Value,
        GgufValueType.UInt32 => (uint)Value,
        GgufValueType.Int32 => (int)Value,
        GgufValueType.Int64 => (long)Value,
        GgufValueType.UInt64 => (ulong)Value <= long.MaxValue ? (long)(ulong)Value
            : throw new InvalidCastException($"GGUF value {Value} does not fit a 64-bit signed integer"),
        _ => throw NotA("an integer"),
    };

    /// <summary>Any numeric scalar (integer or float) as double.</summary>
    public double ToDouble() => Type switch
    {
        GgufValueType.Float32 => (float)Value,
        GgufValueType.Float64 => (double)Value,
        GgufValueType.UInt64 => (ulong)Value,
        _ => ToInt64(),
    };

    /// <summary>The array's elements as T[] when T is exactly the stored element type (e.g. float[] for Float32).</summary>
    public T[] AsArray<T>() => IsArray && Value is T[] a ? a
        : throw NotA($"an array of {typeof(T).Name}");

    public override string ToString()
    {
        if (!IsArray) return Format(Value);
        var a = (Array)Value;
        const int shown = 8;
        var items = new List<string>();
        for (int i = 0; i < Math.Min(a.Length, shown); i++) items.Add(Format(a.GetValue(i)!));
        return $"[{ElementType} x{a.Length}] [{string.Join(", ", items)}{(a.Length > shown ? ", …" : "")}]";
    }

    static string Format(object v) => v switch
    {
        string s => "\"" + s + "\"",
        float f => f.ToString("R", CultureInfo.InvariantCulture),
        double d => d.ToString("R", CultureInfo.InvariantCulture),
        bool b => b ? "true" : "false",
        _ => Convert.ToString(v, CultureInfo.InvariantCulture) ?? "",
    };

    InvalidCastException NotA(string what) =>
        new($"GGUF value of type {(IsArray ? $"array of {ElementType}" : Type.ToString())} is not {what}");
}
