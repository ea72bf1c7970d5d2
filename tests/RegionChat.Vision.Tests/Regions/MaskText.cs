using RegionChat.Vision.Regions;

namespace RegionChat.Vision.Tests.Regions;

/// <summary>Masks as text, one line per row: '#' inside, '.' outside — so expected masks can be written by hand.</summary>
internal static class MaskText
{
    public static string Of(RegionMask mask) =>
        string.Join("\n", Enumerable.Range(0, mask.Height)
            .Select(y => new string(Enumerable.Range(0, mask.Width).Select(x => mask[x, y] ? '#' : '.').ToArray())));

    public static RegionMask Parse(params string[] rows)
    {
        var mask = new RegionMask(rows[0].Length, rows.Length);
        for (int y = 0; y < rows.Length; y++)
        for (int x = 0; x < rows[y].Length; x++)
            if (rows[y][x] == '#') mask.Data[y * mask.Width + x] = RegionMask.Inside;
        return mask;
    }

    public static string Rows(params string[] rows) => string.Join("\n", rows);
}
