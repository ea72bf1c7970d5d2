using TorchSharp;
using static TorchSharp.torch;

namespace RegionChat.Llm.Twin.Internal;

/// <summary>
/// cos/sin tables of llama.cpp's NORMAL rope mode: pair i of a head, (x[2i], x[2i+1]), turns by pos · base^(-2i/n_rot).
/// The angles are computed in float by repeated multiplication, as ggml's rope cache does, so the twin sees the same
/// rounding as llama.cpp.
/// </summary>
internal sealed class RotaryTable
{
    readonly int pairs;
    readonly float thetaScale;
    readonly object gate = new();
    float[] cos = [];
    float[] sin = [];
    int positions;

    public RotaryTable(int ropeDims, float freqBase)
    {
        pairs = ropeDims / 2;
        thetaScale = MathF.Pow(freqBase, -2.0f / ropeDims);
    }

    /// <summary>Tables [count, n_rot/2] for positions 0..count-1, on the given device and type.</summary>
    public (Tensor Cos, Tensor Sin) For(int count, Device device, ScalarType type)
    {
        lock (gate)
        {
            if (count > positions) Grow(Math.Max(count, 2 * positions));
            long n = (long)count * pairs;
            var cos = torch.tensor(this.cos.AsSpan(0, (int)n).ToArray(), new long[] { count, pairs });
            var sin = torch.tensor(this.sin.AsSpan(0, (int)n).ToArray(), new long[] { count, pairs });
            return (cos.to(type, device), sin.to(type, device));
        }
    }

    void Grow(int positions)
    {
        var cos = new float[(long)positions * pairs];
        var sin = new float[cos.Length];
        for (int p = 0; p < positions; p++)
        {
            float theta = p;
            for (int i = 0; i < pairs; i++)
            {
                cos[p * pairs + i] = MathF.Cos(theta);
                sin[p * pairs + i] = MathF.Sin(theta);
                theta *= thetaScale;
            }
        }
        (this.cos, this.sin, this.positions) = (cos, sin, positions);
    }

    /// <summary>Rotates adjacent pairs of x [B, T, H, Dh] (llama rotates the whole head); cos/sin are [T, Dh/2].</summary>
    public static Tensor Apply(Tensor x, Tensor cos, Tensor sin)
    {
        using var scope = torch.NewDisposeScope();
        long b = x.shape[0], t = x.shape[1], h = x.shape[2], dh = x.shape[3];
        var pairs = x.reshape(b, t, h, dh / 2, 2);
        var x0 = pairs.select(-1, 0);
        var x1 = pairs.select(-1, 1);
        var c = cos.view(1, t, 1, dh / 2);
        var s = sin.view(1, t, 1, dh / 2);
        return scope.MoveToOuter(torch.stack(new[] { x0 * c - x1 * s, (x0 * s).add(x1 * c, TwinScalars.One) }, -1).reshape(b, t, h, dh));
    }
}
