namespace RegionChat.Inference;

/// <summary>
/// One turn for <see cref="RegionChatCore.RunTurnAsync"/>: the new messages (one user message, or a replayed
/// conversation ending with a user message) for a new session or an existing one, with sampling and limits.
/// </summary>
public sealed record TurnRequest
{
    /// <summary>The model id; "" = the default model (or the session's).</summary>
    public string Model { get; init; } = "";
    /// <summary>The session to continue; "" starts a new one.</summary>
    public string SessionId { get; init; } = "";
    public required IReadOnlyList<TurnMessage> Messages { get; init; }
    public SamplingOptions Sampling { get; init; } = new();
    /// <summary>A new session's system prompt; "" = the model's.</summary>
    public string SystemPrompt { get; init; } = "";
    /// <summary>Keep a new session after the turn (chat) rather than dropping it (a one-shot caption).</summary>
    public bool KeepSession { get; init; }
    /// <summary>The request's field paths, for errors found while the turn runs.</summary>
    public TurnFields Fields { get; init; } = TurnFields.Chat;
    /// <summary>The caller's id of the request, echoed in <see cref="TurnStarted"/>.</summary>
    public string RequestId { get; init; } = "";
}

/// <summary>Who says a message.</summary>
public enum TurnRole { User, Assistant }

/// <summary>One message of a turn. Only user messages hold an image; an empty user text is the model's default
/// instruction.</summary>
public sealed record TurnMessage(TurnRole Role, string Text, TurnImage? Image = null)
{
    public static TurnMessage User(string text, TurnImage? image = null) => new(TurnRole.User, text, image);
    public static TurnMessage Assistant(string text) => new(TurnRole.Assistant, text);
}

/// <summary>A user message's image and the region asked about, with the request fields errors about them name.</summary>
/// <param name="Input">The image: bytes or a stored id; null = the session's last image.</param>
public sealed record TurnImage(ImageInput? Input, RegionSource Region, string ImageField = "image", string RegionField = "region")
{
    /// <summary>The field errors about the image bytes name (gRPC: "….image.data").</summary>
    public string DataField { get; init; } = ImageField + ".data";
}

/// <summary>Where a turn's image comes from: encoded bytes (stored on the way, by content id) or the id of an image
/// stored before (<see cref="RegionChatCore.PutImage"/>).</summary>
public sealed record ImageInput
{
    ImageInput() { }

    public ReadOnlyMemory<byte>? Bytes { get; private init; }
    public string? StoredId { get; private init; }

    public static ImageInput FromBytes(ReadOnlyMemory<byte> bytes) => new() { Bytes = bytes };
    public static ImageInput FromStoredId(string id) => new() { StoredId = id };
    /// <summary>Neither bytes nor an id (a request that left both out): the turn refuses it, naming the image field.</summary>
    public static ImageInput Missing { get; } = new();
}

/// <summary>The request's field paths of the text, the model and the session id, for errors found while running a turn
/// (Chat: "message.text"; Caption: "instruction"; CaptionStream items add "request."; the OpenAI endpoint: "messages").</summary>
public sealed record TurnFields(string Text, string Model, string Session = "session_id")
{
    public static TurnFields Chat { get; } = new("message.text", "model");
    public static TurnFields Caption(string prefix = "") => new(prefix + "instruction", prefix + "model");
}
