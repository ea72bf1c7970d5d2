namespace RegionChat.Data.Regions;

/// <summary>Why a region was rejected; stable names that an API can return to clients.</summary>
public enum InvalidRegionReason
{
    /// <summary>The description is syntactically or numerically wrong (bad JSON, too few points, negative width, bad RLE).</summary>
    Malformed,
    /// <summary>The region covers no pixel of the image.</summary>
    Empty,
    /// <summary>The region lies wholly outside the image.</summary>
    OutsideImage,
    /// <summary>A mask or RLE whose size differs from the image's.</summary>
    SizeMismatch,
    /// <summary>A mask file that is missing or not a readable image.</summary>
    Unreadable,
    /// <summary>The region costs more than its <see cref="RegionBudget"/> allows (points, stroke, union size or depth,
    /// mask pixels).</summary>
    OverBudget,
}

/// <summary>
/// The one exception region parsing and rasterisation throw for bad input. <see cref="Field"/> names the offending part
/// ("box", "rle.counts", "[2].polygon" inside a union), <see cref="Description"/> says what is wrong, and
/// <see cref="Exception.Message"/> is "Field: Description".
/// </summary>
public sealed class InvalidRegionException : Exception
{
    public InvalidRegionException(string field, InvalidRegionReason reason, string description, Exception? inner = null)
        : base($"{field}: {description}", inner)
    {
        Field = field;
        Reason = reason;
        Description = description;
    }

    public string Field { get; }
    public InvalidRegionReason Reason { get; }
    public string Description { get; }

    /// <summary>The same error seen from an enclosing field, e.g. "box" → "[1].box" inside a union.</summary>
    public InvalidRegionException Under(string prefix) =>
        new(Field.StartsWith('[') ? prefix + Field : $"{prefix}.{Field}", Reason, Description, InnerException);
}
