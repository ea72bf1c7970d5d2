using System.Buffers;
using System.Text;
using System.Text.Json;
using RegionChat.Inference;

namespace RegionChat.Server.OpenAi.Internal;

/// <summary>
/// Turns a turn's events (started, text pieces, finished) into OpenAI's chat completion JSON: server-sent
/// events ("data: {chunk}" … "data: [DONE]") when streaming, else one object. Every chunk and the object carry the
/// extension field "session_id"; the last chunk and the object carry "timings". The HTTP response starts only with
/// the first event, so anything that fails before the model admits the prompt is still a plain HTTP error.
/// </summary>
internal sealed class ChatCompletionResponder(HttpResponse response, ChatCompletionRequest request, string requestId)
{
    static readonly byte[] DataPrefix = "data: "u8.ToArray(), EventEnd = "\n\n"u8.ToArray(), Done = "data: [DONE]\n\n"u8.ToArray();

    readonly string id = "chatcmpl-" + requestId;
    readonly long created = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
    readonly StringBuilder text = new();
    readonly List<TokenLogprob> logprobs = [];
    TurnStarted? started;
    TurnFinished? finished;

    public async Task OnEventAsync(TurnEvent e)
    {
        switch (e)
        {
            case TurnStarted s:
                started = s;
                if (!request.Stream) break;
                response.StatusCode = 200;
                response.ContentType = "text/event-stream; charset=utf-8";
                response.Headers.CacheControl = "no-cache";
                response.Headers["X-Accel-Buffering"] = "no"; // proxies must not hold the stream back
                await SendAsync(w => Chunk(w, delta => delta.WriteString("role", "assistant"), finishReason: null)).ConfigureAwait(false);
                break;
            case TurnText t:
                if (request.Stream)
                    await SendAsync(w => Chunk(w, delta => delta.WriteString("content", t.Text), null, t.Logprobs)).ConfigureAwait(false);
                else
                {
                    text.Append(t.Text);
                    logprobs.AddRange(t.Logprobs);
                }
                break;
            case TurnFinished f:
                finished = f;
                string reason = FinishReason(finished.Reason);
                if (!request.Stream) break;
                await SendAsync(w => Chunk(w, _ => { }, reason)).ConfigureAwait(false);
                if (request.IncludeUsage) await SendAsync(UsageChunk).ConfigureAwait(false);
                await response.Body.WriteAsync(Done).ConfigureAwait(false);
                await response.Body.FlushAsync().ConfigureAwait(false);
                break;
        }
    }

    /// <summary>Writes the non-streaming response once the turn has finished.</summary>
    public async Task CompleteAsync()
    {
        if (request.Stream) return;
        if (started == null || finished == null) throw new InvalidOperationException("the turn ended without its final event");
        string reason = FinishReason(finished.Reason);
        var buffer = new ArrayBufferWriter<byte>();
        using (var w = new Utf8JsonWriter(buffer, OpenAiJson.WriterOptions))
        {
            w.WriteStartObject();
            Head(w, "chat.completion");
            w.WriteStartArray("choices");
            w.WriteStartObject();
            w.WriteNumber("index", 0);
            w.WriteStartObject("message");
            w.WriteString("role", "assistant");
            w.WriteString("content", text.ToString());
            w.WriteNull("refusal");
            w.WriteEndObject();
            Logprobs(w, logprobs);
            w.WriteString("finish_reason", reason);
            w.WriteEndObject();
            w.WriteEndArray();
            Usage(w);
            Timings(w);
            w.WriteString("session_id", started.SessionId);
            w.WriteEndObject();
        }
        response.StatusCode = 200;
        response.ContentType = "application/json; charset=utf-8";
        await response.Body.WriteAsync(buffer.WrittenMemory).ConfigureAwait(false);
    }

    /// <summary>An error after the stream has begun: OpenAI-style clients read it as an "error" event; no [DONE] follows.</summary>
    public static async Task SendErrorEventAsync(HttpResponse response, OpenAiException error)
    {
        await response.Body.WriteAsync(DataPrefix).ConfigureAwait(false);
        await response.Body.WriteAsync(error.ToJson()).ConfigureAwait(false);
        await response.Body.WriteAsync(EventEnd).ConfigureAwait(false);
        await response.Body.FlushAsync().ConfigureAwait(false);
    }

    /// <summary>A turn cut by the server's shutdown has no OpenAI finish reason: it fails as unavailable.</summary>
    static string FinishReason(TurnFinishReason reason) => reason switch
    {
        TurnFinishReason.Stop => "stop",
        TurnFinishReason.Length => "length",
        _ => throw new OpenAiException(503, "unavailable_error", "the server is shutting down; the answer was cut short", code: "server_shutting_down"),
    };

    async Task SendAsync(Action<Utf8JsonWriter> write)
    {
        var buffer = new ArrayBufferWriter<byte>();
        buffer.Write(DataPrefix);
        using (var w = new Utf8JsonWriter(buffer, OpenAiJson.WriterOptions)) write(w);
        buffer.Write(EventEnd);
        await response.Body.WriteAsync(buffer.WrittenMemory).ConfigureAwait(false);
        await response.Body.FlushAsync().ConfigureAwait(false);
    }

    void Chunk(Utf8JsonWriter w, Action<Utf8JsonWriter> delta, string? finishReason, IReadOnlyList<TokenLogprob>? tokens = null)
    {
        w.WriteStartObject();
        Head(w, "chat.completion.chunk");
        w.WriteStartArray("choices");
        w.WriteStartObject();
        w.WriteNumber("index", 0);
        w.WriteStartObject("delta");
        delta(w);
        w.WriteEndObject();
        // A content chunk may show part of a token whose last character comes later: then its list is empty.
        if (tokens != null) Logprobs(w, tokens); else w.WriteNull("logprobs");
        if (finishReason != null) w.WriteString("finish_reason", finishReason); else w.WriteNull("finish_reason");
        w.WriteEndObject();
        w.WriteEndArray();
        if (request.IncludeUsage) w.WriteNull("usage");
        if (finishReason != null) Timings(w);
        w.WriteString("session_id", started!.SessionId);
        w.WriteEndObject();
    }

    void UsageChunk(Utf8JsonWriter w)
    {
        w.WriteStartObject();
        Head(w, "chat.completion.chunk");
        w.WriteStartArray("choices");
        w.WriteEndArray();
        Usage(w);
        Timings(w);
        w.WriteString("session_id", started!.SessionId);
        w.WriteEndObject();
    }

    /// <summary>OpenAI's "logprobs" of a choice: {"content": [{token, logprob, bytes, top_logprobs}], "refusal": null},
    /// or null when the request did not ask for them.</summary>
    void Logprobs(Utf8JsonWriter w, IReadOnlyList<TokenLogprob> tokens)
    {
        if (request.Sampling.Logprobs == null) { w.WriteNull("logprobs"); return; }
        w.WriteStartObject("logprobs");
        w.WriteStartArray("content");
        foreach (var t in tokens)
        {
            w.WriteStartObject();
            Token(w, t);
            w.WriteStartArray("top_logprobs");
            foreach (var alternative in t.Top)
            {
                w.WriteStartObject();
                Token(w, alternative);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteNull("refusal");
        w.WriteEndObject();
    }

    static void Token(Utf8JsonWriter w, TokenLogprob t)
    {
        w.WriteString("token", Encoding.UTF8.GetString(t.Bytes));
        w.WriteNumber("logprob", float.IsFinite(t.Logprob) ? t.Logprob : -9999f);   // JSON has no -Infinity; OpenAI writes -9999
        w.WriteStartArray("bytes");
        foreach (byte b in t.Bytes) w.WriteNumberValue(b);
        w.WriteEndArray();
    }

    void Head(Utf8JsonWriter w, string objectType)
    {
        w.WriteString("id", id);
        w.WriteString("object", objectType);
        w.WriteNumber("created", created);
        w.WriteString("model", started!.Model);
    }

    void Usage(Utf8JsonWriter w)
    {
        var u = finished!.Usage;
        w.WriteStartObject("usage");
        w.WriteNumber("prompt_tokens", u.PromptTokens);
        w.WriteNumber("completion_tokens", u.CompletionTokens);
        w.WriteNumber("total_tokens", (long)u.PromptTokens + u.CompletionTokens);
        w.WriteStartObject("prompt_tokens_details");
        w.WriteNumber("cached_tokens", u.CachedTokens);
        w.WriteEndObject();
        w.WriteNumber("visual_tokens", u.VisualTokens);
        w.WriteBoolean("restored", started!.Restored);
        w.WriteNumber("restored_tokens", started.RestoredTokens);
        w.WriteEndObject();
    }

    void Timings(Utf8JsonWriter w)
    {
        var t = finished!.Timings;
        w.WriteStartObject("timings");
        w.WriteNumber("queue_ms", Math.Round(t.QueueMs, 3));
        w.WriteNumber("image_decode_ms", Math.Round(t.ImageDecodeMs, 3));
        w.WriteNumber("vision_encode_ms", Math.Round(t.VisionEncodeMs, 3));
        w.WriteNumber("prefill_ms", Math.Round(t.PrefillMs, 3));
        w.WriteNumber("decode_ms", Math.Round(t.DecodeMs, 3));
        w.WriteNumber("time_to_first_token_ms", Math.Round(t.TimeToFirstTokenMs, 3));
        w.WriteNumber("decode_tokens_per_second", Math.Round(t.DecodeTokensPerSecond, 3));
        w.WriteBoolean("visual_cache_hit", t.VisualCacheHit);
        w.WriteEndObject();
    }
}
