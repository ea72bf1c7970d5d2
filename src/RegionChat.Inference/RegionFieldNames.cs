using RegionChat.Data.Regions;

namespace RegionChat.Inference;

/// <summary>
/// How a transport spells the fields of a <see cref="RegionDescription"/> in errors, for regions the core makes from a
/// description (<see cref="RegionSource.Described"/>): the gRPC adapter names proto paths
/// ("union.regions[1].polygon.points"), so clients read the name of the field they sent. Paths are relative to the
/// region ("" is the region itself).
/// </summary>
public abstract class RegionFieldNames
{
    /// <summary>The path of part <paramref name="index"/> of the union at <paramref name="unionPath"/>.</summary>
    public abstract string Part(string unionPath, int index);

    /// <summary>The field an error about the union at <paramref name="path"/> names: its nesting depth
    /// (<paramref name="depth"/> true) or its list of parts (empty, or more than the budget allows).</summary>
    public abstract string Union(string path, bool depth);

    /// <summary>The field an error about the region <paramref name="node"/> (not a union) at <paramref name="path"/>
    /// names. <paramref name="error"/> is the error in the JSON form's names ("scribble.width", "rle.counts", "mask").</summary>
    public abstract string Leaf(string path, RegionDescription node, InvalidRegionException error);
}
