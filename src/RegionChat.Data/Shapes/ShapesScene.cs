namespace RegionChat.Data.Shapes;

/// <summary>One generated scene: the 64×64 RGB image, its objects and the whole-image text.</summary>
public sealed class ShapesScene
{
    internal ShapesScene(long seed, int backgroundGrey, byte[] pixels, IReadOnlyList<ShapesObject> objects)
    {
        Seed = seed;
        BackgroundGrey = backgroundGrey;
        Pixels = pixels;
        Objects = objects;
        ObjectsLeftToRight = objects
            .OrderBy(o => o.Box.CentreX2).ThenBy(o => o.Box.CentreY2).ThenBy(o => o.Index)
            .ToArray();
        Caption = ShapesText.ImageCaption(ObjectsLeftToRight.Select(o => o.Caption));
        Qa = ShapesText.ImageQa(Caption, objects.Count);
    }

    public long Seed { get; }

    /// <summary>The per-scene base grey of the background noise.</summary>
    public int BackgroundGrey { get; }

    /// <summary>RGB bytes, row-major, length 64*64*3; treat as read-only.</summary>
    public byte[] Pixels { get; }

    /// <summary>The objects in draw order (<see cref="ShapesObject.Index"/> = position here).</summary>
    public IReadOnlyList<ShapesObject> Objects { get; }

    /// <summary>The objects by bounding-box centre x, ties by centre y, then draw order: the caption order.</summary>
    public IReadOnlyList<ShapesObject> ObjectsLeftToRight { get; }

    /// <summary>The whole-image caption, e.g. "a large red circle a small blue square and a large green triangle".</summary>
    public string Caption { get; }

    /// <summary>The whole-image questions in <see cref="ShapesText.ImageQuestions"/> order with their answers.</summary>
    public IReadOnlyList<ShapesQa> Qa { get; }

    public int Width => ShapesSpec.CanvasSize;
    public int Height => ShapesSpec.CanvasSize;
}
