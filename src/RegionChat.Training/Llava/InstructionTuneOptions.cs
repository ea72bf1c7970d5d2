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

    /// <summary>Share of follow-up turns (when two regions were shown) that ask the colour or shape of the region before
    /// the latest, a training-only question (<see cref="RegionChat.Data.Shapes.ShapesChatText.PreviousRegionQuestions"/>).</summary>
    public double PreviousShare { get; init; }

    /// <summary>Share of new-region turns that pick a region sharing the last one's colour or shape, when the image has one.</summary>
    public double MatchShare { get; init; }

    /// <summary>Share of follow-ups about the latest region that ask the training-only "is it to the left?"; above 0 the
    /// previous-region follow-ups also ask "is the previous one to the left?".</summary>
    public double PositionShare { get; init; }

    /// <summary>Give the projector a zero-initialised region-position map when it has none (a projector that has one
    /// keeps training it either way).</summary>
    public bool RegionPositionMap { get; init; }

    /// <summary>The region-position map's learning rate as a multiple of the projector's (its two inputs need large steps).</summary>
    public double RegionPositionLearningRateMultiplier { get; init; } = 10;

    /// <summary>Share of steps whose images keep only <see cref="VisualTokenBudget"/> visual tokens, chosen as the
    /// server's visual-token budget chooses them, so the model also answers well at that budget (0: every step sees all).</summary>
    public double VisualTokenBudgetShare { get; init; }

    /// <summary>The visual tokens a budget step keeps per image (CLS and region patches first).</summary>
    public int VisualTokenBudget { get; init; } = 17;

    /// <summary>The LLM's context (GGUF llama.context_length) at least this many positions: a smaller one is widened
    /// when the stage copies its inputs (null: as the input LLM has it).</summary>
    public int? ContextLength { get; init; }

    /// <summary>Validation alpha modes of the evaluation.</summary>
    public IReadOnlyList<RegionAlphaMode> EvalModes { get; init; } = [RegionAlphaMode.Whole, RegionAlphaMode.Mask, RegionAlphaMode.Box];

    /// <summary>The visual-token budget of a (1-based) step: <see cref="VisualTokenBudget"/> for a
    /// seeded <see cref="VisualTokenBudgetShare"/> of the steps, else 0 (every token).</summary>
    public int BudgetOfStep(int step)
    {
        if (VisualTokenBudgetShare <= 0) return 0;
        // SplitMix64's finaliser over (seed, step): the draw that trained the committed models/shapes-tiny.
        ulong z = unchecked((ulong)Seed * 0x9E3779B97F4A7C15UL + (ulong)step * 0xBF58476D1CE4E5B9UL + 0x94D049BB133111EBUL);
        z = unchecked((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL);
        z = unchecked((z ^ (z >> 27)) * 0x94D049BB133111EBUL);
        z ^= z >> 31;
        return (z >> 11) * (1.0 / (1UL << 53)) < VisualTokenBudgetShare ? VisualTokenBudget : 0;
    }

    public override void Validate()
    {
        base.Validate();
        Check(LlmLearningRateMultiplier is >= 0 and <= 100, $"LLM learning-rate multiplier {LlmLearningRateMultiplier} must be in 0..100");
        Check(WholeImageFraction is >= 0 and <= 1, $"whole-image fraction {WholeImageFraction} must be in 0..1");
        Check(BoxFraction is >= 0 and <= 1, $"box fraction {BoxFraction} must be in 0..1");
        Check(MaxTurns is >= 1 and <= 8, $"max turns {MaxTurns} must be in 1..8");
        Check(RelationShare is >= 0 and <= 0.85, $"relation share {RelationShare} must be in 0..0.85");
        Check(LeftOfShare is >= 0 and < 1, $"left-of share {LeftOfShare} must be in 0..1 (excluding 1)");
        Check(PreviousShare is >= 0 and <= 1, $"previous-region share {PreviousShare} must be in 0..1");
        Check(MatchShare is >= 0 and <= 1, $"match share {MatchShare} must be in 0..1");
        Check(PositionShare is >= 0 and <= 1, $"position share {PositionShare} must be in 0..1");
        Check(RegionPositionLearningRateMultiplier is >= 0 and <= 1000,
            $"region-position learning-rate multiplier {RegionPositionLearningRateMultiplier} must be in 0..1000");
        Check(VisualTokenBudgetShare is >= 0 and <= 1, $"visual-token budget share {VisualTokenBudgetShare} must be in 0..1");
        Check(VisualTokenBudget is >= 2 and <= 4096, $"visual-token budget {VisualTokenBudget} must be in 2..4096");
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
        if (PreviousShare > 0) key["previous_share"] = PreviousShare;
        if (MatchShare > 0) key["match_share"] = MatchShare;
        if (PositionShare > 0) key["position_share"] = PositionShare;
        if (RegionPositionMap) key["region_position_map"] = true;
        if (RegionPositionLearningRateMultiplier != 10) key["region_position_lr_multiplier"] = RegionPositionLearningRateMultiplier;
        if (VisualTokenBudgetShare > 0)
        {
            key["visual_token_budget_share"] = VisualTokenBudgetShare;
            key["visual_token_budget"] = VisualTokenBudget;
        }
        return key;
    }
}
