using TorchSharp.Modules;
using static TorchSharp.torch;

namespace RegionChat.Vision.Internal;

/// <summary>
/// Row padding for the tower's bfloat16 / float16 matrix products at inference. libtorch's oneDNN kernels ran one
/// ViT-L/14@336 image's products (1 + 24² = 577 token rows, [577, 1024] × [1024, 4096]) at 325 GFLOP/s, and the same
/// product with 576 or 584 rows at 520–530 (578 rows: 306, 580: 455; 2 threads, this machine). So a product takes its
/// rows padded with zero rows to a multiple of 8, and the padding is cut off its result. Rows do not mix in a product.
/// Float32 (MKL) showed no such dependence (156–163 GFLOP/s at 576–584 rows) and is left alone, and so is training (autograd).
/// </summary>
internal static class PaddedRows
{
    const int Multiple = 8;

    /// <summary>The row count a product of <paramref name="rows"/> rows in <paramref name="dtype"/> runs at.</summary>
    public static long Target(long rows, ScalarType dtype) =>
        dtype is ScalarType.BFloat16 or ScalarType.Float16 && !is_grad_enabled() ? (rows + Multiple - 1) / Multiple * Multiple : rows;

    /// <summary><paramref name="rows"/> [n, k] as [<paramref name="target"/>, k], zero rows after the n real ones (itself when
    /// no padding is needed).</summary>
    public static Tensor Pad(Tensor rows, long target)
    {
        long n = rows.shape[0];
        if (target == n) return rows;
        var padded = empty([target, rows.shape[1]], rows.dtype, rows.device);
        padded.narrow(0, 0, n).copy_(rows);
        padded.narrow(0, n, target - n).zero_();
        return padded;
    }

    /// <summary>The first <paramref name="n"/> rows of a product's result (a contiguous view: rows are the leading dimension).</summary>
    public static Tensor Cut(Tensor result, long n) => result.shape[0] == n ? result : result.narrow(0, 0, n);

    /// <summary><paramref name="layer"/> applied to <paramref name="x"/> [..., in] with its rows padded: [..., out].</summary>
    public static Tensor Linear(Linear layer, Tensor x)
    {
        long n = x.numel() / x.shape[^1];
        long target = Target(n, x.dtype);
        if (target == n) return layer.forward(x);
        using var scope = NewDisposeScope();
        var y = Cut(nn.functional.linear(Pad(x.reshape(n, x.shape[^1]), target), layer.weight!, layer.bias), n);
        long[] shape = [.. x.shape[..^1], y.shape[1]];
        return y.view(shape).MoveToOuterDisposeScope();
    }
}
