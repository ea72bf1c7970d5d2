namespace RegionChat.Data.Shapes;

/// <summary>
/// The fixed numbers of the shapes world. Checks outside the project draw scenes from these independently, so they never
/// change; SPEC.md beside this file states the full rules.
/// </summary>
public static class ShapesSpec
{
    /// <summary>Canvas width and height in pixels (RGB, row-major, 3 bytes a pixel).</summary>
    public const int CanvasSize = 64;
    public const int PixelCount = CanvasSize * CanvasSize;

    /// <summary>Per-scene background grey, uniform integer in [min, max] inclusive.</summary>
    public const int BackgroundGreyMin = 90, BackgroundGreyMax = 160;

    /// <summary>Per-pixel, per-channel background noise: uniform integer in [-12, 12], then clamped to 0..255.</summary>
    public const int BackgroundNoise = 12;

    /// <summary>Per-pixel, per-channel object noise: uniform integer in [-10, 10], then clamped to 0..255.</summary>
    public const int ObjectNoise = 10;

    /// <summary>A scene aims for 1..4 objects; placement may drop some, never the first.</summary>
    public const int MinObjects = 1, MaxObjects = 4;

    /// <summary>Placement attempts per object before the object is dropped.</summary>
    public const int PlacementTries = 50;

    /// <summary>A new object may overlap the pixels of earlier objects by at most this fraction of its own area (1/5).</summary>
    public const int MaxOverlapNumerator = 1, MaxOverlapDenominator = 5;

    /// <summary>Every object keeps at least this fraction (1/2) of its own area visible after later objects are drawn.</summary>
    public const int MinVisibleNumerator = 1, MinVisibleDenominator = 2;

    /// <summary>Side of the square bounding box per size class, uniform integer in [min, max] inclusive.</summary>
    public static (int Min, int Max) SideRange(ShapeSize size) => size switch
    {
        ShapeSize.Small => (10, 14),
        ShapeSize.Large => (20, 28),
        _ => throw new ArgumentOutOfRangeException(nameof(size), size, "not a size class of the shapes world"),
    };

    /// <summary>The base RGB of a colour; each drawn pixel adds independent noise per channel.</summary>
    public static (byte R, byte G, byte B) BaseColor(ShapeColor color) => color switch
    {
        ShapeColor.Red => (220, 40, 40),
        ShapeColor.Green => (40, 170, 60),
        ShapeColor.Blue => (40, 80, 220),
        ShapeColor.Yellow => (230, 210, 40),
        ShapeColor.Purple => (150, 60, 190),
        ShapeColor.Orange => (240, 140, 30),
        _ => throw new ArgumentOutOfRangeException(nameof(color), color, "not a colour of the shapes world"),
    };
}
