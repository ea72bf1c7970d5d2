namespace RegionChat.Inference;

/// <summary>
/// Embeddings for <see cref="RegionChatCore.EmbedAsync"/>: regions of one image and texts in the model's joint CLIP space
/// (its classifier's), the vectors <see cref="RegionChatCore.ClassifyAsync"/> scores against each other.
/// </summary>
public sealed record EmbedRequest
{
    /// <summary>The model id; "" = the default model.</summary>
    public string Model { get; init; } = "";
    /// <summary>The image whose regions are embedded; null = texts only.</summary>
    public ImageInput? Image { get; init; }
    /// <summary>The regions, each embedded on its own; empty with an image = the whole image once.</summary>
    public IReadOnlyList<RegionSource> Regions { get; init; } = [];
    /// <summary>Texts to embed through the text tower (with the classifier's prompt templates, as labels are).</summary>
    public IReadOnlyList<string> Texts { get; init; } = [];
    /// <summary>The request's field paths, for errors (<see cref="ClassifyFields.Labels"/> names the texts).</summary>
    public ClassifyFields Fields { get; init; } = new() { Labels = "texts" };
    public string RequestId { get; init; } = "";
}

/// <summary>The outcome: L2-normalised vectors (a dot product is a cosine), the regions' and the texts' in request order.
/// Classify's logit of a region and a label is the model's exp(logit_scale) times their dot product.
/// <paramref name="TextTokens"/>: the texts' tokens under the classifier's tokenizer (start and end markers included).</summary>
public sealed record EmbedResult(string Model, IReadOnlyList<float[]> Regions, IReadOnlyList<float[]> Texts, ClassifyTimings Timings,
    int TextTokens = 0);
