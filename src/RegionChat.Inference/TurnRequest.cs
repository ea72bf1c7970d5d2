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
    /// <summary>The id a new session takes, chosen by the client (the <c>x-regionchat-session</c> header, so that a load
    /// balancer can route the first turn already); "" = the core picks one. Only with an empty <see cref="SessionId"/>;
    /// checked by <see cref="SessionIds.Check"/>, and a session id already in use is refused (AlreadyExists).</summary>
    public string NewSessionId { get; init; } = "";
    public required IReadOnlyList<TurnMessage> Messages { get; init; }
    public SamplingOptions Sampling { get; init; } = new();
    /// <summary>A new session's system prompt; "" = the model's.</summary>
    public string SystemPrompt { get; init; } = "";
    /// <summary>Keep a new session after the turn (chat) rather than dropping it (a one-shot caption).</summary>
    public bool KeepSession { get; init; }
    /// <summary>A kept new session that is likely asked only once (an OpenAI call without a session id or header): it
    /// runs as a one-shot request, never evicting a conversation, until a second turn makes it one.</summary>
    public bool LikelyOneShot { get; init; }
    /// <summary>The request's field paths, for errors found while the turn runs.</summary>
    public TurnFields Fields { get; init; } = TurnFields.Chat;
    /// <summary>The caller's id of the request, echoed in <see cref="TurnStarted"/>.</summary>
    public string RequestId { get; init; } = "";
    /// <summary>Visual tokens kept per image of this turn (<see cref="VisualTokenSelection"/>); null = the model's
    /// setting (<see cref="RegionChatModel.VisualTokenBudget"/>), 0 = all. Out of range: InvalidArgument naming
    /// <see cref="TurnFields.VisualTokenBudget"/>.</summary>
    public long? VisualTokenBudget { get; init; }
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
    /// <summary>Where a client-chosen id of a new session comes from (<see cref="TurnRequest.NewSessionId"/>).</summary>
    public string NewSession { get; init; } = SessionIds.Header;
    /// <summary>Where the turn's visual-token budget comes from (<see cref="TurnRequest.VisualTokenBudget"/>).</summary>
    public string VisualTokenBudget { get; init; } = "visual_token_budget";
    /// <summary>Where the turn's max tokens come from (a request that asks for more than the session has room for).</summary>
    public string MaxTokens { get; init; } = "max_tokens";
    /// <summary>Where the answer's format comes from (one the model's tokens cannot write).</summary>
    public string Format { get; init; } = "sampling.format";
    /// <summary>Where the turn's logit biases come from (a token id outside the model's vocabulary).</summary>
    public string LogitBias { get; init; } = "sampling.logit_bias";

    public static TurnFields Chat { get; } = new("message.text", "model");
    public static TurnFields Caption(string prefix = "") =>
        new(prefix + "instruction", prefix + "model")
        {
            VisualTokenBudget = prefix + "visual_token_budget", MaxTokens = prefix + "max_tokens", Format = prefix + "sampling.format",
            LogitBias = prefix + "sampling.logit_bias",
        };
}

/// <summary>Session ids as clients may choose them for a new session, and the header that carries them.</summary>
public static class SessionIds
{
    /// <summary>The request and response header (gRPC metadata) of a session id: sent by clients so that a load balancer
    /// can keep a conversation on one replica, echoed by the server.</summary>
    public const string Header = "x-regionchat-session";

    /// <summary>What is wrong with a client-chosen session id, or null: 1 to <see cref="RegionChatCoreOptions.MaxIdLength"/>
    /// characters of A-Z, a-z, 0-9 and ".", "_", "-", ":" (safe in a header, a URL and a log line).</summary>
    public static string? Check(string id, int maxLength)
    {
        if (id.Length == 0) return "must not be empty";
        if (id.Length > maxLength) return $"is {id.Length} characters; the limit is {maxLength} (RegionChat:MaxIdLength)";
        foreach (char c in id)
            if (!char.IsAsciiLetterOrDigit(c) && c is not ('.' or '_' or '-' or ':'))
                return "may hold only the characters A-Z, a-z, 0-9, '.', '_', '-' and ':'";
        return null;
    }
}
