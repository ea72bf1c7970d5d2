namespace RegionChat.Training.Llava;

/// <summary>
/// One turn of a conversation: <see cref="Sample"/> holds the question, the expected answer and the image it is about
/// (scene, region, alpha). When <see cref="ShowsImage"/> the turn carries that image's visual tokens, as the server
/// injects them for a turn with an image or a new region; else it is a follow-up about what was shown before.
/// </summary>
public sealed record LlavaChatTurn(LlavaSample Sample, bool ShowsImage)
{
    public override string ToString() => (ShowsImage ? "[image] " : "") + Sample;
}
