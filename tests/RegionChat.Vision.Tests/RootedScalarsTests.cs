using System.Diagnostics;
using System.Text.RegularExpressions;
using RegionChat.TestSupport;
using static TorchSharp.torch;

namespace RegionChat.Vision.Tests;

/// <summary>
/// TorchSharp's temporary Scalars can be finalised while libtorch still reads them (see <see cref="RootedScalars"/>): a
/// loaded server lost a batch of encodes to it. One test runs the request path's tensor code under a thread that
/// collects garbage and runs finalisers nonstop (the old code failed about once in 10k forwards there, so it catches a
/// regression only sometimes); the other holds the rule on the source, which is deterministic.
/// </summary>
public sealed class RootedScalarsTests
{
    [Fact]
    public void TheEncoderAndProjectorGiveTheSameResultWhileTheGarbageCollectorRunsNonstop()
    {
        manual_seed(7);
        using var tower = new AlphaClipVisionTransformer(new AlphaClipConfig(16, 8, 8, 2, 1, 8));
        tower.eval();
        using var projector = new LlavaProjector(8, 8);
        projector.AddRegionPositionMap();
        using (no_grad()) projector.state_dict()["region_position.weight"].copy_(randn(8, 2));
        using var image = randn(2, 3, 16, 16);
        using var alpha = randn(2, 1, 16, 16);
        using var reference = Run();

        using var stop = new CancellationTokenSource();
        var collector = new Thread(() =>
        {
            while (!stop.IsCancellationRequested) { GC.Collect(); GC.WaitForPendingFinalizers(); }
        }) { IsBackground = true };
        collector.Start();
        int forwards = 0;
        var failures = new List<string>();
        var clock = Stopwatch.StartNew();
        try
        {
            while (clock.Elapsed < TimeSpan.FromSeconds(2) || forwards < 200)
            {
                try
                {
                    using var again = Run();
                    if (!again.allclose(reference, rtol: 0, atol: 0)) failures.Add($"forward {forwards} differs");
                }
                catch (Exception e) { failures.Add($"forward {forwards}: {e.Message.Split('\n')[0]}"); }
                forwards++;
            }
        }
        finally
        {
            stop.Cancel();
            collector.Join();
        }
        Assert.True(failures.Count == 0, $"{failures.Count} of {forwards} forwards failed:\n" + string.Join("\n", failures.Take(5)));

        Tensor Run()
        {
            using var scope = NewDisposeScope();
            using var _ = no_grad();
            var (features, attention) = tower.PatchFeaturesWithClsAttention(image, alpha, -1, includeCls: true);
            var tokens = projector.WithRegionPosition(projector.Project(features), alpha);
            return cat([tokens.flatten(), attention.flatten(), LlavaProjector.RegionCentres(alpha).flatten()]).MoveToOuterDisposeScope();
        }
    }

    /// <summary>A one-argument add on a tensor makes TorchSharp create its alpha = 1 as a temporary Scalar; the
    /// request path's projects and training call <see cref="RootedScalars.AddInPlace"/> / <see cref="RootedScalars.Plus"/> instead
    /// (the LLM twin, which trains the LLM, adds with its own rooted one).
    /// (Operators such as <c>a + b</c> do the same and no regex can tell tensors from numbers: review catches those.)</summary>
    [Fact]
    public void TheRequestPathAndTrainingAddThroughRootedScalars()
    {
        var oneArgument = new Regex(@"\.add_?\((?:[^(),]|\((?:[^()]|\([^()]*\))*\))*\)");
        var offenders = new List<string>();
        foreach (var project in new[] { "RegionChat.Vision", "RegionChat.Inference", "RegionChat.Training", "RegionChat.Llm" })
        {
            string root = Path.Combine(SharedFiles.RepoRoot, "src", project);
            foreach (var file in Directory.EnumerateFiles(root, "*.cs", SearchOption.AllDirectories)
                .Where(f => !Path.GetRelativePath(root, f).Split(Path.DirectorySeparatorChar).Any(d => d is "obj" or "bin")))
            {
                var lines = File.ReadAllLines(file);
                for (int i = 0; i < lines.Length; i++)
                {
                    string code = lines[i].Split("//")[0];
                    if (oneArgument.IsMatch(code)) offenders.Add($"{Path.GetRelativePath(SharedFiles.RepoRoot, file)}:{i + 1}: {lines[i].Trim()}");
                }
            }
        }
        Assert.True(offenders.Count == 0, "one-argument add calls:\n" + string.Join("\n", offenders));
    }
}
