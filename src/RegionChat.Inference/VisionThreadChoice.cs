using RegionChat.Vision;

namespace RegionChat.Inference;

/// <summary>
/// TorchSharp's intra-op threads for a loaded tower. A tower whose forward is under a GFLOP (shapes-tiny's: ~0.1) is
/// no faster on two threads than on one (`bench vision --size 64 --patch 8 --width 128 --layers 4 --heads 4 --batch 8
/// --threads 1|2`: 14.3 and 14.4 ms), and the second thread only competes with llama.cpp's: with one, `bench batch
/// --model models/shapes-tiny --threads 2` served 1.17–1.20× as many items one by one and 1.11–1.16× in the stream.
/// The count is process-wide in libtorch, so the largest any loaded model wants is kept.
/// </summary>
public static class VisionThreadChoice
{
    /// <summary>Towers whose forward of one image costs fewer FLOPs get one thread.</summary>
    public const double OneThreadBelowFlops = 1e9;

    static readonly Lock Gate = new();
    static int set;

    /// <summary>One thread for a tower under <see cref="OneThreadBelowFlops"/>, else <paramref name="threads"/>.</summary>
    public static int For(AlphaClipConfig tower, int threads) => tower.ForwardFlops() < OneThreadBelowFlops ? 1 : Math.Max(1, threads);

    /// <summary>Sets libtorch's thread count to the largest wanted by any model loaded so far, and returns it.</summary>
    internal static int Apply(int wanted)
    {
        lock (Gate)
        {
            set = Math.Max(set, wanted);
            TorchSharp.torch.set_num_threads(set);
            return set;
        }
    }
}
