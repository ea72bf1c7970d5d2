using RegionChat.Inference;

namespace RegionChat.Server.OpenAi.Internal;

/// <summary>
/// A checked POST /v1/chat/completions request. <see cref="Messages"/> are the turns to add: for a continued session
/// those after the last assistant message, for a new one the whole conversation (earlier assistant turns included).
/// <see cref="VisualTokenBudget"/> is RegionChat's extension <c>visual_token_budget</c> (null: the model's setting);
/// <see cref="MaxTokensField"/> is the field the request's limit came in (<c>max_completion_tokens</c> wins), for errors.
/// </summary>
internal sealed record ChatCompletionRequest(
    string Model, string SessionId, string SystemPrompt, IReadOnlyList<TurnMessage> Messages, SamplingOptions Sampling,
    bool Stream, bool IncludeUsage, long? VisualTokenBudget = null, string MaxTokensField = "max_tokens",
    string FormatField = "response_format");
