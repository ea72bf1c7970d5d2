using System.Text.Json;

namespace RegionChat.Data.Batch;

/// <summary>One line of a batch job's JSONL input.</summary>
/// <param name="Id">The record id (a JSON integer id is kept as its decimal text).</param>
/// <param name="ImagePath">Full path of the image: relative paths are resolved against the input file's folder.</param>
/// <param name="Region">The "region" value exactly as written; the region parser interprets it.</param>
/// <param name="Instruction">Optional instruction text; null when absent or JSON null.</param>
/// <param name="Line">1-based line number in the input file, for error messages.</param>
public sealed record BatchInputItem(string Id, string ImagePath, JsonElement Region, string? Instruction, int Line);
