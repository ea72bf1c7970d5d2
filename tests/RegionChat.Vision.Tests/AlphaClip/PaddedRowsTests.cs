using RegionChat.Vision.Internal;
using TorchSharp;
using static TorchSharp.torch;

namespace RegionChat.Vision.Tests.AlphaClip;

/// <summary>The bf16 tower's products run on rows padded to a multiple of 8 (PaddedRows); the real rows' results must not
/// change, and nothing is padded in float32 or under autograd.</summary>
public class PaddedRowsTests
{
    [Fact]
    public void OnlyReducedPrecisionInferencePadsToAMultipleOfEight()
    {
        using (no_grad())
        {
            Assert.Equal(584, PaddedRows.Target(577, ScalarType.BFloat16));
            Assert.Equal(72, PaddedRows.Target(65, ScalarType.Float16));
            Assert.Equal(576, PaddedRows.Target(576, ScalarType.BFloat16));
            Assert.Equal(577, PaddedRows.Target(577, ScalarType.Float32));
        }
        using (enable_grad()) Assert.Equal(577, PaddedRows.Target(577, ScalarType.BFloat16));
    }

    [Theory]
    [InlineData(1, 577)]
    [InlineData(3, 65)]
    public void APaddedProductGivesTheRowsOfTheUnpaddedOne(int batch, int tokens)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        manual_seed(5);
        using var layer = nn.Linear(64, 96, hasBias: true, dtype: ScalarType.BFloat16);
        var x = randn(batch, tokens, 64).to(ScalarType.BFloat16);
        var plain = layer.forward(x);
        var padded = PaddedRows.Linear(layer, x);
        Assert.Equal(plain.shape, padded.shape);
        Assert.True(padded.is_contiguous());
        // Rows do not mix in a product; oneDNN gives the very same bits here, and one bf16 step is the most allowed anywhere.
        double worst = (plain.to(ScalarType.Float32) - padded.to(ScalarType.Float32)).abs().max().item<float>();
        double scale = plain.to(ScalarType.Float32).abs().max().item<float>();
        Assert.True(worst <= scale / 128, $"padded rows differ by {worst} (largest value {scale})");

        var rows = x.reshape(-1, 64);
        var p = PaddedRows.Pad(rows, PaddedRows.Target(rows.shape[0], rows.dtype));
        Assert.Equal(0, p.shape[0] % 8);
        Assert.True(p.shape[0] > rows.shape[0]);
        Assert.Equal(0f, p.narrow(0, rows.shape[0], p.shape[0] - rows.shape[0]).abs().sum().to(ScalarType.Float32).item<float>());
        Assert.True(p.narrow(0, 0, rows.shape[0]).eq(rows).all().item<bool>());
    }

    [Fact]
    public void TheBf16TowerGivesAnImageTheSameFeaturesPaddedOrNot()
    {
        // 65 tokens per image: alone its products run padded to 72 rows; in a batch of 8 they run on 520 rows, unpadded.
        using var scope = NewDisposeScope();
        manual_seed(11);
        using var tower = new AlphaClipVisionTransformer(new AlphaClipConfig(64, 8, 64, 2, 2, 32), ScalarType.BFloat16);
        var image = randn(8, 3, 64, 64);
        var alpha = randn(8, 1, 64, 64).sign();
        using (no_grad())
        {
            Assert.Equal(72, PaddedRows.Target(65, ScalarType.BFloat16));
            Assert.Equal(520, PaddedRows.Target(8 * 65, ScalarType.BFloat16));
        }
        var batch = tower.PatchFeatures(image, alpha, -1, includeCls: true);
        var alone = tower.PatchFeatures(image.narrow(0, 0, 1), alpha.narrow(0, 0, 1), -1, includeCls: true);
        // A batch of another size may run other kernels, whose bf16 roundings add up over the blocks to a few bf16 steps
        // (2 at most seen, with one or two threads); a wrong or shifted row would be off by the values themselves.
        double worst = (batch.narrow(0, 0, 1) - alone).abs().max().item<float>();
        double scale = alone.abs().max().item<float>();
        Assert.True(worst <= scale / 32, $"the padded image's features differ by {worst} (largest value {scale})");
    }
}
