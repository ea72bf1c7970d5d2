using Microsoft.Extensions.AI;
using PbV1 = RegionChat.Protos.V1;

namespace RegionChat.Client.Tests;

/// <summary>RegionChatEmbeddingGenerator (Microsoft.Extensions.AI) against the real server on shapes-tiny: the vectors of
/// gRPC Embed, in the caller's order, repeats sent once, and a region's vector nearest its own caption's.</summary>
public class EmbeddingGeneratorTests(ShapesTinyServer server) : IClassFixture<ShapesTinyServer>
{
    static double Dot(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        double sum = 0;
        for (int i = 0; i < a.Length; i++) sum += a[i] * (double)b[i];
        return sum;
    }

    [Fact]
    public async Task TextsGetGrpcEmbedsVectorsInOrderWithRepeatsAndRegionsFindTheirCaption()
    {
        using IEmbeddingGenerator<string, Embedding<float>> generator = new RegionChatEmbeddingGenerator(server.Client);
        string[] texts = ["a large red circle", "a small blue cross", "a large red circle"];
        var embeddings = await generator.GenerateAsync(texts, cancellationToken: ServerFixture.Timeout());
        var expected = await server.Client.EmbedAsync(new PbV1.EmbedRequest { Texts = { texts[0], texts[1] } }, ServerFixture.Timeout());
        Assert.Equal(3, embeddings.Count);
        Assert.Equal(expected.Texts[0].Values, embeddings[0].Vector.ToArray());
        Assert.Equal(expected.Texts[1].Values, embeddings[1].Vector.ToArray());
        Assert.Equal(embeddings[0].Vector.ToArray(), embeddings[2].Vector.ToArray());
        Assert.All(embeddings, e => Assert.Equal("shapes-tiny", e.ModelId));
        Assert.Equal(expected.TextTokens, embeddings.Usage!.InputTokenCount);
        Assert.Equal(RegionChatChatClient.ProviderName, generator.GetService<EmbeddingGeneratorMetadata>()!.ProviderName);

        // A region of a scene (its first object's bounding box) is nearer its own caption than the other.
        var scene = RegionChat.Data.Shapes.ShapesGenerator.Generate(1_000_000_123);
        var target = scene.Objects[0];
        using var temp = new RegionChat.TestSupport.TempDir();
        RegionChat.Data.Shapes.ShapesPng.SaveMaskPng(target.VisibleMask, temp.File("mask.png"));
        var (regions, _) = await server.Client.EmbedAsync(Scenes.Png(1_000_000_123), [ImageRegion.Mask(File.ReadAllBytes(temp.File("mask.png")))],
            cancellationToken: ServerFixture.Timeout());
        string other = target.Caption == "a small green triangle" ? "a large red circle" : "a small green triangle";
        var captions = await generator.GenerateAsync([target.Caption, other]);
        Assert.True(Dot(regions[0], captions[0].Vector.Span) > Dot(regions[0], captions[1].Vector.Span));

        await Assert.ThrowsAsync<NotSupportedException>(() => generator.GenerateAsync(texts, new EmbeddingGenerationOptions { Dimensions = 64 }));
    }

    [Fact]
    public async Task AnErrorNamesTheCallersIndexNotTheIndexOfTheTextsSent()
    {
        using var generator = new RegionChatEmbeddingGenerator(server.Client);
        // Sent as ["a large red circle", ""]: the server's texts[1] is the caller's values[2].
        var e = await Assert.ThrowsAsync<RegionChatException>(() =>
            generator.GenerateAsync(["a large red circle", "a large red circle", ""], cancellationToken: ServerFixture.Timeout()));
        Assert.Equal(Grpc.Core.StatusCode.InvalidArgument, e.StatusCode);
        Assert.Equal("values[2]", Assert.Single(e.FieldViolations).Field);
        Assert.StartsWith("values[2]", e.Detail);
        Assert.DoesNotContain("texts[", e.Message);
    }
}
