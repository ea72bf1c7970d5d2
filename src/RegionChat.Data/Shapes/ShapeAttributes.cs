namespace RegionChat.Data.Shapes;

/// <summary>The five shapes of the shapes world. The numeric order is the order the generator draws them in.</summary>
public enum ShapeKind { Circle, Square, Triangle, Diamond, Cross }

/// <summary>The six colours of the shapes world (base RGB in <see cref="ShapesSpec.BaseColor"/>).</summary>
public enum ShapeColor { Red, Green, Blue, Yellow, Purple, Orange }

/// <summary>Size classes: small boxes are 10–14 px, large 20–28 px (<see cref="ShapesSpec.SideRange"/>).</summary>
public enum ShapeSize { Small, Large }

/// <summary>The single lower-case word each attribute is spoken as in captions and answers.</summary>
public static class ShapeWords
{
    public static string Word(this ShapeKind shape) => shape switch
    {
        ShapeKind.Circle => "circle",
        ShapeKind.Square => "square",
        ShapeKind.Triangle => "triangle",
        ShapeKind.Diamond => "diamond",
        ShapeKind.Cross => "cross",
        _ => throw new ArgumentOutOfRangeException(nameof(shape), shape, "not a shape of the shapes world"),
    };

    public static string Word(this ShapeColor color) => color switch
    {
        ShapeColor.Red => "red",
        ShapeColor.Green => "green",
        ShapeColor.Blue => "blue",
        ShapeColor.Yellow => "yellow",
        ShapeColor.Purple => "purple",
        ShapeColor.Orange => "orange",
        _ => throw new ArgumentOutOfRangeException(nameof(color), color, "not a colour of the shapes world"),
    };

    public static string Word(this ShapeSize size) => size switch
    {
        ShapeSize.Small => "small",
        ShapeSize.Large => "large",
        _ => throw new ArgumentOutOfRangeException(nameof(size), size, "not a size class of the shapes world"),
    };

    public static IReadOnlyList<ShapeKind> AllShapes { get; } = Enum.GetValues<ShapeKind>();
    public static IReadOnlyList<ShapeColor> AllColors { get; } = Enum.GetValues<ShapeColor>();
    public static IReadOnlyList<ShapeSize> AllSizes { get; } = Enum.GetValues<ShapeSize>();
}
