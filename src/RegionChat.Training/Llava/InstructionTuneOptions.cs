using System.Text.Json.Nodes;
using RegionChat.Training.Clip;

namespace RegionChat.Training.Llava;

/// <summary>Stage 5 (LLaVA stage 2): projector and LLM learn every question of the world, the vision tower frozen.</summary>
public sealed record InstructionTuneOptions : LlavaTrainingOptions
{
    public InstructionTuneOptions()
    {
        LearningRate = 1e-3;
        WarmupSteps = 20;
        BatchSize = 32;
    }

    /// <summary>The LLM's learning rate as a multiple of the projector's.</summary>
    public double LlmLearningRateMultiplier { get; init; } = 1;

    /// <summary>Fraction of rows that ask a whole-image question ("describe the image", "how many objects are there?").</summary>
    public double WholeImageFraction { get; init; } = 0.25;

    /// <summary>Fraction of region rows shown with the box instead of the visible mask.</summary>
    public double BoxFraction { get; init; } = 0.3;

    /// <summary>
    /// Turns per training conversation, drawn uniformly from 1..MaxTurns (1: single-turn prompts only). Later turns show
    /// a new region, a new image, or ask a follow-up or relation question (see the Conversations part of SPEC.md).
    /// </summary>
    public int MaxTurns { get; init; } = 1;

    /// <summary>Share of later turns that ask a relation question (when the conversation has two regions to relate).</summary>
    public double RelationShare { get; init; } = 0.30;

    /// <summary>Share of relation questions that ask "is it to the left of the previous one?" (the rest split evenly).</summary>
    public double LeftOfShare { get; init; } = 0.25;

    /// <summary>The LLM's context (GGUF llama.context_length) at least this many positions: a smaller one is widened
    /// when the stage copies its inputs (null: as the input LLM has it).</summary>
    public int? ContextLength { get; init; }

    /// <summary>Validation alpha modes of the evaluation.</summary>
    public IReadOnlyList<RegionAlphaMode> EvalModes { get; init; } = [RegionAlphaMode.Whole, RegionAlphaMode.Mask, RegionAlphaMode.Box];

    public override void Validate()
    {
        base.Validate();
        Check(LlmLearningRateMultiplier is >= 0 and <= 100, $"LLM learning-rate multiplier {LlmLearningRateMultiplier} must be in 0..100");
        Check(WholeImageFraction is >= 0 and <= 1, $"whole-image fraction {WholeImageFraction} must be in 0..1");
        Check(BoxFraction is >= 0 and <= 1, $"box fraction {BoxFraction} must be in 0..1");
        Check(MaxTurns is >= 1 and <= 8, $"max turns {MaxTurns} must be in 1..8");
        Check(RelationShare is >= 0 and <= 0.85, $"relation share {RelationShare} must be in 0..0.85");
        Check(LeftOfShare is >= 0 and < 1, $"left-of share {LeftOfShare} must be in 0..1 (excluding 1)");
        Check(ContextLength is null or (>= 16 and <= 8192), $"context length {ContextLength} must be in 16..8192");
    }

    public override JsonObject TrainingKey()
    {
        var key = base.TrainingKey();
        key["llm_lr_multiplier"] = LlmLearningRateMultiplier;
        key["whole_image_fraction"] = WholeImageFraction;
        key["box_fraction"] = BoxFraction;
        if (MaxTurns > 1) key["max_turns"] = MaxTurns;   // absent for single-turn runs, so their keys stay as before
        if (ContextLength is int context) key["context_length"] = context;
        if (RelationShare != 0.30) key["relation_share"] = RelationShare;   // absent at the defaults, so older runs resume
        if (LeftOfShare != 0.25) key["left_of_share"] = LeftOfShare;
        return key;
    }
}
