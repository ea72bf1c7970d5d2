namespace RegionChat.Data.Shapes;

/// <summary>An axis-aligned pixel box: columns X0..X1-1 and rows Y0..Y1-1 (exclusive end).</summary>
public readonly record struct PixelBox(int X0, int Y0, int X1, int Y1)
{
    public int Width => X1 - X0;
    public int Height => Y1 - Y0;

    /// <summary>Twice the centre x (X0 + X1): integer, so left-to-right ordering needs no rounding.</summary>
    public int CentreX2 => X0 + X1;
    public int CentreY2 => Y0 + Y1;

    /// <summary>The box as COCO writes it: [x, y, width, height].</summary>
    public int[] ToCocoBbox() => [X0, Y0, Width, Height];

    /// <summary>The box as [x0, y0, x1, y1] with exclusive end, the form the JSONL export uses.</summary>
    public int[] ToCorners() => [X0, Y0, X1, Y1];

    public override string ToString() => $"[{X0},{Y0},{X1},{Y1}]";
}
