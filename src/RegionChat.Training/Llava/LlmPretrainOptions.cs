using System.Text.Json.Nodes;
using RegionChat.Llm.Gguf;

namespace RegionChat.Training.Llava;

/// <summary>Stage 3: pre-training a tiny llama (the TorchSharp twin) on the shapes world's text.</summary>
public sealed record LlmPretrainOptions : LlavaTrainingOptions
{
    public LlmPretrainOptions()
    {
        LearningRate = 2e-3;
        WarmupSteps = 30;
        WeightDecay = 0.1;
        BatchSize = 32;
    }

    public int EmbeddingLength { get; init; } = 128;
    public int Layers { get; init; } = 2;
    public int Heads { get; init; } = 4;
    public int KvHeads { get; init; } = 4;

    /// <summary>SwiGLU width (LLaMA's ~2.7× the embedding length).</summary>
    public int FeedForward { get; init; } = 352;

    /// <summary>Positions the model is made for (GGUF llama.context_length); image prompts need ~110.</summary>
    public int ContextLength { get; init; } = 128;

    /// <summary>Fraction of rows that are a bare caption (whole-image or region) instead of a prompt with its answer.</summary>
    public double CaptionFraction { get; init; } = 0.25;

    /// <summary>Fraction of prompt rows that ask a whole-image question (the rest ask about one object).</summary>
    public double WholeImageFraction { get; init; } = 0.3;

    /// <summary>
    /// Fraction of prompt rows whose image slot holds the words the image would show (the region's caption, or the
    /// whole-image caption) instead of nothing. Those rows teach the LLM to read answers off the text in that slot,
    /// which is what stage 4's frozen LLM needs: the projector then only has to write such "words".
    /// </summary>
    public double StandInFraction { get; init; } = 0.5;

    /// <summary>The model's llama shape for a vocabulary of <paramref name="vocabSize"/> tokens.</summary>
    public LlamaShape Shape(int vocabSize) =>
        new(EmbeddingLength, Layers, Heads, KvHeads, FeedForward, vocabSize, ContextLength, 10000f, 1e-5f);

    public override void Validate()
    {
        base.Validate();
        Check(EmbeddingLength is >= 8 and <= 4096, $"embedding length {EmbeddingLength} must be in 8..4096");
        Check(Layers is >= 1 and <= 64, $"layers {Layers} must be in 1..64");
        Check(FeedForward is >= 1 and <= 65536, $"feed-forward length {FeedForward} must be in 1..65536");
        Check(ContextLength is >= 16 and <= 8192, $"context length {ContextLength} must be in 16..8192");
        Check(CaptionFraction is >= 0 and <= 1, $"caption fraction {CaptionFraction} must be in 0..1");
        Check(WholeImageFraction is >= 0 and <= 1, $"whole-image fraction {WholeImageFraction} must be in 0..1");
        Check(StandInFraction is >= 0 and <= 1, $"stand-in fraction {StandInFraction} must be in 0..1");
        Shape(300).Validate();
    }

    public override JsonObject TrainingKey()
    {
        var key = base.TrainingKey();
        key["llm"] = new JsonObject
        {
            ["embedding_length"] = EmbeddingLength, ["layers"] = Layers, ["heads"] = Heads, ["kv_heads"] = KvHeads,
            ["feed_forward"] = FeedForward, ["context_length"] = ContextLength,
        };
        key["caption_fraction"] = CaptionFraction;
        key["whole_image_fraction"] = WholeImageFraction;
        key["stand_in_fraction"] = StandInFraction;
        return key;
    }
}
