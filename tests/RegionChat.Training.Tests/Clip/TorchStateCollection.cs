namespace RegionChat.Training.Tests.Clip;

/// <summary>
/// Torch's random generator and thread count are process-wide: tests that seed and build models run one at a time so a
/// parallel test cannot draw from the generator between another test's seed and its initialisation.
/// </summary>
[CollectionDefinition(Name)]
public sealed class TorchStateCollection
{
    public const string Name = "torch global state";
}
