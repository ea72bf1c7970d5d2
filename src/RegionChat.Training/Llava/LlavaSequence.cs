namespace RegionChat.Training.Llava;

/// <summary>
/// One training or inference sequence in token ids, split where the image's visual tokens go:
/// <c>BeforeImage</c> (BOS, "{system} USER: "), the image rows, <c>AfterImage</c> ("\n{question} ASSISTANT:"), then
/// <c>Answer</c> (" {answer}" and EOS; empty for a prompt that the model is to answer).
/// </summary>
public sealed record LlavaSequence(int[] BeforeImage, int[] AfterImage, int[] Answer)
{
    /// <summary>Positions of the text around an image of <paramref name="imageTokens"/> rows, answer included.</summary>
    public int Length(int imageTokens) => BeforeImage.Length + imageTokens + AfterImage.Length + Answer.Length;

    /// <summary>The prompt as text-only ids: BeforeImage then AfterImage (the image left out, as stage 3 trains on).</summary>
    public int[] TextIds => [.. BeforeImage, .. AfterImage, .. Answer];
}
