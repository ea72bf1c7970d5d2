using System.Text;
using System.Text.Json;

namespace RegionChat.Data.Regions.Internal;

/// <summary>Writes a <see cref="RegionDescription"/> in the JSON form <see cref="RegionJsonParser"/> reads.</summary>
internal static class RegionJsonWriter
{
    public static string Write(RegionDescription region)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer)) Write(writer, region);
        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    static void Write(Utf8JsonWriter w, RegionDescription region)
    {
        if (region is RegionDescription.Union union)
        {
            w.WriteStartArray();
            foreach (var part in union.Parts) Write(w, part);
            w.WriteEndArray();
            return;
        }
        w.WriteStartObject();
        switch (region)
        {
            case RegionDescription.Box b:
                w.WriteStartArray("box");
                foreach (double v in (double[])[b.X0, b.Y0, b.X1, b.Y1]) w.WriteNumberValue(v);
                w.WriteEndArray();
                if (b.Normalized) w.WriteBoolean("normalized", true);
                break;
            case RegionDescription.Polygon p:
                w.WritePropertyName("polygon");
                WritePoints(w, p.Points);
                if (p.NonZeroFill) w.WriteString("fill", "nonzero");
                break;
            case RegionDescription.Scribble s:
                w.WriteStartObject("scribble");
                w.WritePropertyName("points");
                WritePoints(w, s.Points);
                w.WriteNumber("width", s.Width);
                w.WriteEndObject();
                break;
            case RegionDescription.Rle r:
                w.WriteStartObject("rle");
                w.WriteStartArray("size");
                w.WriteNumberValue(r.Height);
                w.WriteNumberValue(r.Width);
                w.WriteEndArray();
                if (r.Compressed != null) w.WriteString("counts", r.Compressed);
                else
                {
                    w.WriteStartArray("counts");
                    foreach (long c in r.Counts!) w.WriteNumberValue(c);
                    w.WriteEndArray();
                }
                w.WriteEndObject();
                break;
            case RegionDescription.MaskFile m:
                w.WriteString("mask", m.Path);
                break;
            case RegionDescription.MaskBytes m:
                w.WriteString("mask", "data:image/png;base64," + Convert.ToBase64String(m.Image));
                break;
            case RegionDescription.Whole:
                w.WriteBoolean("whole", true);
                break;
            default:
                throw new ArgumentException($"unknown region description {region.GetType().Name}", nameof(region));
        }
        w.WriteEndObject();
    }

    static void WritePoints(Utf8JsonWriter w, IReadOnlyList<(double X, double Y)> points)
    {
        w.WriteStartArray();
        foreach (var (x, y) in points)
        {
            w.WriteNumberValue(x);
            w.WriteNumberValue(y);
        }
        w.WriteEndArray();
    }
}
