namespace RegionChat.Training.Pipeline;

/// <summary>The stages of the shapes recipe, in the order <see cref="ShapesTrainingPipeline"/> runs them.</summary>
public enum ShapesStage
{
    /// <summary>Every stage in order, then the export.</summary>
    All,
    /// <summary>1: CLIP pre-training of the image and text towers.</summary>
    Clip,
    /// <summary>2: Alpha-CLIP fine-tuning of the image tower on region captions.</summary>
    Alpha,
    /// <summary>3: pre-training the tiny llama on the world's text.</summary>
    Llm,
    /// <summary>4: projector alignment (LLaVA stage 1).</summary>
    Projector,
    /// <summary>5: instruction tuning (LLaVA stage 2).</summary>
    Instruct,
    /// <summary>6: chat tuning, stage 5 continued on conversations of 1–5 turns with a wider context.</summary>
    Chat,
    /// <summary>7: the model folder.</summary>
    Export,
}
