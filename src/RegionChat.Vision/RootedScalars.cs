using TorchSharp;
using static TorchSharp.torch;

namespace RegionChat.Vision;

/// <summary>
/// TorchSharp frees a <see cref="Scalar"/>'s native value in its finaliser and passes only the raw pointer to libtorch,
/// so a temporary Scalar (an implicit conversion from a number, or the alpha = 1 that <c>add_(Tensor)</c> and
/// <c>Tensor + Tensor</c> create inside TorchSharp) can be collected while the native op still reads it. Under the
/// allocation churn of a loaded server that made a batch of encodes fail ("Expected false to be true" from
/// c10::Scalar) about once in a few thousand forwards, and could as well read a freed value. Code on the request path
/// adds through these helpers, and keeps any other Scalar in a field or a <c>using</c> variable.
/// </summary>
public static class RootedScalars
{
    /// <summary>The alpha of a plain add; a static root, never finalised.</summary>
    public static Scalar One { get; } = 1;

    /// <summary><paramref name="into"/> += <paramref name="other"/> (broadcasting), returning <paramref name="into"/>.</summary>
    public static Tensor AddInPlace(this Tensor into, Tensor other) => into.add_(other, One);

    /// <summary><paramref name="a"/> + <paramref name="b"/> as a new tensor.</summary>
    public static Tensor Plus(this Tensor a, Tensor b) => a.add(b, One);
}
