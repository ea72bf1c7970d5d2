namespace RegionChat.CaptionBatch.Internal;

/// <summary>Tells a caption item's INVALID_ARGUMENT that blames the job's own options (sent alike with every item, so
/// every item would fail alike) from one that blames the item (its image, its region, its own instruction).</summary>
internal static class CaptionRefusals
{
    /// <summary>The option a refusal's field violations blame, or null when they name only the item's own fields.
    /// <paramref name="fields"/> are the server's google.rpc.BadRequest field paths, with or without the stream's
    /// "request." prefix: "max_tokens" (over the server's MaxTokensLimit, or too many for the context after the prompt),
    /// "instruction" (over MaxPromptBytes, or a prompt too long for the context), "sampling.format*" (--json,
    /// --json-schema, --choices: a format the model's tokens cannot write), "sampling.*" (--logprobs).</summary>
    public static string? BlamedOption(WorkItem item, CaptionBatchOptions options, IEnumerable<string> fields)
    {
        // An item's own instruction is part of its prompt: a prompt, or max tokens after it, that does not fit may be
        // that instruction's doing, so such an item keeps its error record.
        bool ownInstruction = item.Input.Instruction != null;
        foreach (string raw in fields)
        {
            string field = raw.StartsWith("request.", StringComparison.Ordinal) ? raw["request.".Length..] : raw;
            if (field == "max_tokens" && !ownInstruction) return "--max-tokens";
            if (field == "instruction" && !ownInstruction) return options.Instruction != null ? "--instruction" : "the model's default caption prompt";
            if (field.StartsWith("sampling.format", StringComparison.Ordinal)) return options.FormatOption;
            if (field.StartsWith("sampling.", StringComparison.Ordinal)) return "--logprobs";
        }
        return null;
    }
}
