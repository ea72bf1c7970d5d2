namespace RegionChat.Data.Shapes;

/// <summary>
/// One object of a scene. Masks are byte[64*64], row-major, 1 = inside, 0 = outside; treat them as read-only.
/// </summary>
public sealed class ShapesObject
{
    internal ShapesObject(int index, ShapeKind shape, ShapeColor color, ShapeSize size, PixelBox box,
        byte[] shapeMask, byte[] visibleMask)
    {
        Index = index;
        Shape = shape;
        Color = color;
        Size = size;
        Box = box;
        ShapeMask = shapeMask;
        VisibleMask = visibleMask;
        Area = Count(shapeMask);
        VisibleArea = Count(visibleMask);
        Caption = ShapesText.RegionCaption(size, color, shape);
        Qa = ShapesText.RegionQa(size, color, shape);
    }

    /// <summary>Draw order within the scene (0 is drawn first, later objects lie on top).</summary>
    public int Index { get; }
    public ShapeKind Shape { get; }
    public ShapeColor Color { get; }
    public ShapeSize Size { get; }

    /// <summary>The square the shape is rasterised in (side from the size class). Exclusive end.</summary>
    public PixelBox Box { get; }

    /// <summary>Every pixel the shape covers, including pixels later objects draw over.</summary>
    public byte[] ShapeMask { get; }

    /// <summary>The object's region: the pixels of its shape that no later object covers.</summary>
    public byte[] VisibleMask { get; }

    public int Area { get; }
    public int VisibleArea { get; }

    /// <summary>"a {size} {color} {shape}".</summary>
    public string Caption { get; }

    /// <summary>The region questions in <see cref="ShapesText.RegionQuestions"/> order with their answers.</summary>
    public IReadOnlyList<ShapesQa> Qa { get; }

    static int Count(byte[] mask)
    {
        int n = 0;
        foreach (byte b in mask) n += b;
        return n;
    }
}
