using RegionChat.TestSupport;
using static TorchSharp.torch;

namespace RegionChat.Vision.Tests;

/// <summary>The projector's optional region-position map: the alpha's region centre, added to every visual token.</summary>
public sealed class RegionPositionTests
{
    [Fact]
    public void CentresAreTheRegionBoundingBoxMiddlesInMinusOneToOne()
    {
        using var alpha = full(3, 1, 8, 8, -1.9f);
        alpha[0, 0, 2..4, 0..2] = tensor(1.9f);     // rows 2-3, columns 0-1: centre x = 1/8 → -0.75, y = 3/8 → -0.25
        alpha[1, 0, .., ..] = tensor(1.9f);          // the whole image: the middle
        alpha[2, 0, 7, 5] = tensor(1.9f);            // one pixel at column 5, row 7: x = 5.5/8 → 0.375, y = 7.5/8 → 0.875
        using var centres = LlavaProjector.RegionCentres(alpha);
        Assert.Equal(new[] { -0.75f, -0.25f, 0f, 0f, 0.375f, 0.875f }, centres.data<float>().ToArray());
    }

    [Fact]
    public void ANewMapChangesNothingUntilTrained()
    {
        using var projector = new LlavaProjector(16, 8);
        using var features = randn(2, 5, 16);
        using var alpha = full(2, 1, 8, 8, 1.9f);
        using var plain = projector.Project(features);
        Assert.False(projector.HasRegionPosition);
        Assert.Same(plain, projector.WithRegionPosition(plain, alpha));
        projector.AddRegionPositionMap();
        Assert.True(projector.HasRegionPosition);
        using var placed = projector.WithRegionPosition(plain, alpha);
        Assert.Equal(0f, (placed - plain).abs().max().item<float>());
    }

    [Fact]
    public void TheMapAddsOneVectorPerImageToEveryTokenAndSurvivesASaveAndLoad()
    {
        using var temp = new TempDir();
        using var projector = new LlavaProjector(16, 8);
        projector.AddRegionPositionMap();
        using (no_grad()) projector.state_dict()["region_position.weight"].copy_(randn(8, 2));
        using var features = randn(2, 5, 16);
        using var alpha = full(2, 1, 8, 8, 1.9f);
        alpha[0, 0, .., 4..] = tensor(-1.9f);        // image 0: the left half; image 1: the whole image
        using var plain = projector.Project(features);
        using var placed = projector.WithRegionPosition(plain, alpha);
        using var added = placed - plain;
        for (int token = 1; token < 5; token++)
            Assert.True((added[.., token] - added[.., 0]).abs().max().item<float>() < 1e-6, $"token {token} got another vector");
        Assert.True((added[0, 0] - added[1, 0]).abs().max().item<float>() > 1e-3, "two regions in different places got one vector");

        string path = temp.File("projector.safetensors");
        StateDictFile.WriteSafetensors(path, projector.state_dict().Select(kv => KeyValuePair.Create("model.mm_projector." + kv.Key, kv.Value)));
        using var loaded = LlavaProjector.Load(path);
        Assert.True(loaded.HasRegionPosition);
        using var again = loaded.WithRegionPosition(loaded.Project(features), alpha);
        Assert.True((again - placed).abs().max().item<float>() < 1e-6);
    }

    [Fact]
    public void AMapOfTheWrongShapeIsRejectedByName()
    {
        using var temp = new TempDir();
        using var projector = new LlavaProjector(16, 8);
        var tensors = projector.state_dict().Select(kv => KeyValuePair.Create("model.mm_projector." + kv.Key, kv.Value))
            .Append(KeyValuePair.Create("model.mm_projector.region_position.weight", zeros(8, 3))).ToList();
        string path = temp.File("projector.safetensors");
        StateDictFile.WriteSafetensors(path, tensors);
        var error = Assert.Throws<InvalidDataException>(() => LlavaProjector.Load(path));
        Assert.Contains("region_position.weight", error.Message);
        Assert.Contains("[8, 2]", error.Message);
    }
}
