using RegionChat.Llm.Gguf;
using RegionChat.Llm.Twin;
using RegionChat.Training.Clip;
using RegionChat.Training.Llava;
using RegionChat.Training.Llava.Internal;
using RegionChat.Data.Shapes;
using RegionChat.Training.Tests.Clip;
using RegionChat.Vision;
using TorchSharp;
using static TorchSharp.torch;

namespace RegionChat.Training.Tests.Llava;

[Collection(TorchStateCollection.Name)]
public class LlavaLossTests
{
    static ShapesLlavaModel TinyModel()
    {
        var vocabulary = ShapesLlmVocabulary.Create();
        torch.manual_seed(11);
        var vision = new AlphaClipVisionTransformer(new AlphaClipConfig(64, 16, 32, 2, 2, 32));
        var llm = new LlamaTwin(new LlamaShape(32, 1, 2, 2, 64, vocabulary.Count, 64), seed: 5);
        var projector = new LlavaProjector(32, 32);
        return new ShapesLlavaModel(vision, projector, llm, vocabulary);
    }

    [Fact]
    public void OnlyTheAnswerAndEosArePredicted()
    {
        using var model = TinyModel();
        var a = model.Renderer.Render(ShapesText.DescribeRegion, "a small red cross");
        var b = model.Renderer.Render(ShapesText.HowMany, "two");
        var tails = new[] { (int[])[.. a.AfterImage, .. a.Answer], [.. b.AfterImage, .. b.Answer] };
        int offset = a.BeforeImage.Length + model.ImageTokens;
        using var targets = TokenBatch.Targets(tails, offset, [a.AfterImage.Length, b.AfterImage.Length]);
        var rows = Enumerable.Range(0, 2).Select(r => targets[r].data<long>().ToArray()).ToArray();
        foreach (var (row, seq) in rows.Zip(new[] { a, b }))
        {
            var counted = row.Select((t, p) => (t, p)).Where(x => x.t != TokenBatch.Ignore).ToList();
            Assert.Equal(seq.Answer.Select(i => (long)i), counted.Select(x => x.t));
            // The first answer token is predicted at the prompt's last position ("ASSISTANT:").
            Assert.Equal(offset + seq.AfterImage.Length - 1, counted[0].p);
            Assert.Equal(model.Vocabulary.EosId, counted[^1].t);
        }
    }

    [Fact]
    public void LossIsTheMeanAnswerTokenCrossEntropyAndTrainsOnlyWhatRequiresGrad()
    {
        using var model = TinyModel();
        foreach (var p in model.Llm.parameters()) p.requires_grad = false;
        var scene = ShapesGenerator.Generate(42);
        var samples = new[]
        {
            LlavaSample.OfRegion(scene, scene.Objects[0], RegionAlphaMode.Mask, scene.Objects[0].Qa[0]),
            LlavaSample.Whole(scene, scene.Qa[1]),
        };
        var (loss, _) = model.Loss(samples);

        // By hand: each sample alone, -log p(answer token) summed over answer tokens, divided by their count.
        double sum = 0;
        int count = 0;
        using (no_grad())
            foreach (var s in samples)
            {
                var seq = model.Renderer.Render(s.Question, s.Answer);
                var logits = model.Llm.Forward([
                    LlamaTwinSegment.Tokens(seq.BeforeImage), LlamaTwinSegment.Embeddings(model.VisualTokens([s])),
                    LlamaTwinSegment.Tokens([.. seq.AfterImage, .. seq.Answer])]);
                var logp = logits[0].log_softmax(-1);
                int start = seq.BeforeImage.Length + model.ImageTokens + seq.AfterImage.Length;
                for (int k = 0; k < seq.Answer.Length; k++, count++)
                    sum -= logp[start + k - 1, seq.Answer[k]].ToDouble();
            }
        Assert.Equal(sum / count, loss.ToDouble(), 4);

        loss.backward();
        Assert.All(model.Projector.parameters(), p => Assert.True(p.grad is not null && p.grad.abs().sum().ToDouble() > 0));
        Assert.All(model.Llm.parameters(), p => Assert.Null(p.grad));
        Assert.All(model.Vision.parameters(), p => Assert.Null(p.grad));
    }

    [Fact]
    public void TheContextMustHoldTheLongestConversation()
    {
        var vocabulary = ShapesLlmVocabulary.Create();
        using var vision = new AlphaClipVisionTransformer(new AlphaClipConfig(64, 8, 32, 2, 2, 32));   // 64 visual tokens
        using var llm = new LlamaTwin(new LlamaShape(32, 1, 2, 2, 64, vocabulary.Count, 64), seed: 5);
        using var projector = new LlavaProjector(32, 32);
        var e = Assert.Throws<ArgumentException>(() => new ShapesLlavaModel(vision, projector, llm, vocabulary));
        Assert.Contains("context of 64", e.Message);
    }
}
