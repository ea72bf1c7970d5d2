using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace RegionChat.Data.Batch;

/// <summary>One line of a batch job's JSONL input.</summary>
/// <param name="Id">The record id (a JSON integer id is kept as its decimal text).</param>
/// <param name="ImagePath">Full path of the image: relative paths are resolved against the input file's folder.</param>
/// <param name="Region">The "region" value exactly as written; the region parser interprets it.</param>
/// <param name="Instruction">Optional instruction text; null when absent or JSON null.</param>
/// <param name="Line">1-based line number in the input file, for error messages.</param>
public sealed record BatchInputItem(string Id, string ImagePath, JsonElement Region, string? Instruction, int Line)
{
    /// <summary>Whether the input wrote the id as a JSON integer (a COCO annotation id): records then write it back as one,
    /// so they join the input's ids as they are.</summary>
    public bool IdIsNumber { get; init; }

    /// <summary>The id as records write it: the integer when the input had one, else the string.</summary>
    public JsonNode IdNode() => IdIsNumber && long.TryParse(Id, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long n)
        ? JsonValue.Create(n)
        : JsonValue.Create(Id);
}
