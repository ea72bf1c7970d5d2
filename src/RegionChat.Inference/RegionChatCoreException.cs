namespace RegionChat.Inference;

/// <summary>What went wrong with a request, in terms any transport can map (gRPC status, HTTP status).</summary>
public enum RegionChatErrorKind
{
    /// <summary>A field of the request is wrong; <see cref="RegionChatCoreException.Violations"/> names it.</summary>
    InvalidArgument,
    /// <summary>The model, session or image the request names is not (or no longer) here.</summary>
    NotFound,
    /// <summary>The session is answering another turn.</summary>
    SessionBusy,
    /// <summary>A new session's client-chosen id is already in use.</summary>
    AlreadyExists,
    /// <summary>The request is well formed but cannot run in the current state (e.g. a turn that would outgrow the
    /// model's context); <see cref="RegionChatCoreException.Violations"/> may name the field.</summary>
    FailedPrecondition,
    /// <summary>The admission queue is full: retry later.</summary>
    ResourceExhausted,
    /// <summary>The core is shutting down: retry elsewhere.</summary>
    Unavailable,
    /// <summary>The model a request needs cannot be loaded (a broken model folder).</summary>
    ModelUnavailable,
    /// <summary>Another request (on this or another replica) holds the session's write lease: it is extending the session.</summary>
    SessionLeased,
}

/// <summary>One offending request field: its path ("message.region.box", "messages[0].content") and what is wrong.</summary>
public sealed record FieldError(string Field, string Description);

/// <summary>
/// The one exception of the serving core. The message is meant for the client as it stands; for
/// <see cref="RegionChatErrorKind.InvalidArgument"/> it is "field: description" for each violation, joined with "; ".
/// </summary>
public sealed class RegionChatCoreException : Exception
{
    public RegionChatCoreException(RegionChatErrorKind kind, string message, IReadOnlyList<FieldError>? violations = null, Exception? inner = null)
        : base(message, inner)
    {
        Kind = kind;
        Violations = violations ?? [];
    }

    public RegionChatErrorKind Kind { get; }
    /// <summary>The turn does not fit the model's context (its prompt, or the answer asked for): an InvalidArgument or a
    /// full session's FailedPrecondition. OpenAI's clients know it by the code <c>context_length_exceeded</c>.</summary>
    public bool ContextOverflow { get; init; }
    /// <summary>An Unavailable because the session store cannot be reached (not a shutdown).</summary>
    public bool SessionStoreUnavailable { get; init; }
    /// <summary>The request fields at fault (InvalidArgument always has at least one).</summary>
    public IReadOnlyList<FieldError> Violations { get; }

    /// <summary>This failure marked as a context overflow.</summary>
    public RegionChatCoreException AsContextOverflow() => new(Kind, Message, Violations, InnerException) { ContextOverflow = true };

    public static RegionChatCoreException InvalidArgument(string field, string description, Exception? inner = null) =>
        InvalidArgument([new FieldError(field, description)], inner);

    public static RegionChatCoreException InvalidArgument(IReadOnlyList<FieldError> violations, Exception? inner = null) =>
        new(RegionChatErrorKind.InvalidArgument, string.Join("; ", violations.Select(v => $"{v.Field}: {v.Description}")), violations, inner);

    public static RegionChatCoreException NotFound(string message) => new(RegionChatErrorKind.NotFound, message);
    public static RegionChatCoreException Unavailable(string message) => new(RegionChatErrorKind.Unavailable, message);
    public static RegionChatCoreException StoreUnavailable(string message) =>
        new(RegionChatErrorKind.Unavailable, message) { SessionStoreUnavailable = true };
    public static RegionChatCoreException ResourceExhausted(string message) => new(RegionChatErrorKind.ResourceExhausted, message);
}
