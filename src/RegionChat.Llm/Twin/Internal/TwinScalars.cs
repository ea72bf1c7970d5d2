using TorchSharp;

namespace RegionChat.Llm.Twin.Internal;

/// <summary>
/// The alpha of the twin's additions, rooted for the process's life. TorchSharp frees a Scalar's native value in its
/// finaliser and hands libtorch only the pointer, so the temporary alpha = 1 that <c>a + b</c> makes can be collected
/// while the op still reads it (RegionChat.Vision.RootedScalars has the story; the twin trains the LLM for hours).
/// </summary>
internal static class TwinScalars
{
    public static readonly Scalar One = 1;
}
