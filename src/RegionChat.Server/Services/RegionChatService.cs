using Grpc.Core;
using RegionChat.Inference;
using RegionChat.Server.Internal;
using RegionChat.Server.Services.Internal;
using PbV1 = RegionChat.Protos.V1;

namespace RegionChat.Server.Services;

/// <summary>The regionchat.v1.RegionChat gRPC service (see protos/regionchat/v1/region_chat.proto): proto ↔ the core,
/// every method and stream item (CaptionStream, ClassifyStream, EmbedStream) through <see cref="GrpcCalls"/>.</summary>
internal sealed class RegionChatService(RegionChatCore core, GrpcCalls calls) : Generated.RegionChat.RegionChatBase
{
    public override Task Chat(PbV1.ChatRequest request, IServerStreamWriter<PbV1.ChatEvent> responseStream, ServerCallContext context) =>
        calls.RunAsync("Chat", context, async requestId =>
        {
            var v = new RequestValidator(core.Options);
            v.Text(request.Message?.Text ?? "", "message.text", required: request.Message?.Image == null && request.Message?.Region == null);
            if (request.Message == null) v.Add("message", "is required");
            var sampling = ProtoMapping.Sampling(request.Sampling, request.MaxTokens, request.Stop);
            v.Sampling(sampling);
            v.Text(request.SystemPrompt, "system_prompt", required: false);
            v.Text(request.AnswerStart, "answer_start", required: false);
            v.ThrowIfAny();
            var m = request.Message!;
            var image = m.Image == null && m.Region == null ? null
                : new TurnImage(ProtoMapping.Image(m.Image), ProtoRegions.Source(m.Region), "message.image", "message.region");
            string? header = context.RequestHeaders.GetValue(SessionIds.Header);
            var turn = new TurnRequest
            {
                Model = request.Model, SessionId = request.SessionId, Sampling = sampling,
                Messages = string.IsNullOrWhiteSpace(request.AnswerStart)
                    ? [TurnMessage.User(m.Text, image)]
                    : [TurnMessage.User(m.Text, image), TurnMessage.Assistant(request.AnswerStart)],
                SystemPrompt = request.SystemPrompt, KeepSession = true, Fields = TurnFields.Chat, RequestId = requestId,
                NewSessionId = SessionHeader.NewSessionId(header, request.SessionId, "session_id"),
                VisualTokenBudget = request.HasVisualTokenBudget ? request.VisualTokenBudget : null,
            };
            await foreach (var e in core.RunTurnAsync(turn, context.CancellationToken).ConfigureAwait(false))
            {
                // A new session's id goes back in the response headers too (with the first event), for the balancer's logs.
                if (e is TurnStarted started && header == null && context.GetHttpContext().Response is { HasStarted: false } response)
                    response.Headers[SessionIds.Header] = started.SessionId;
                await responseStream.WriteAsync(ProtoMapping.Event(e)).ConfigureAwait(false);
            }
        });

    public override Task<PbV1.EmbedResponse> Embed(PbV1.EmbedRequest request, ServerCallContext context) =>
        calls.RunAsync("Embed", context, requestId => EmbedAsync(request, "", requestId, context.CancellationToken));

    async Task<PbV1.EmbedResponse> EmbedAsync(PbV1.EmbedRequest request, string prefix, string requestId, CancellationToken ct)
    {
        var result = await core.EmbedAsync(new EmbedRequest
        {
            Model = request.Model, Image = ProtoMapping.Image(request.Image), Regions = request.Regions.Select(ProtoRegions.Source).ToArray(),
            Texts = request.Texts, RequestId = requestId, Fields = ClassifyFields.Prefixed(prefix) with { Labels = prefix + "texts" },
        }, ct).ConfigureAwait(false);
        return new PbV1.EmbedResponse
        {
            Model = result.Model,
            Regions = { result.Regions.Select(v => new PbV1.Embedding { Values = { v } }) },
            Texts = { result.Texts.Select(v => new PbV1.Embedding { Values = { v } }) },
            Timings = ProtoMapping.ClassifyTimings(result.Timings),
            TextTokens = (uint)result.TextTokens,
        };
    }

    public override Task EmbedStream(IAsyncStreamReader<PbV1.EmbedStreamRequest> requestStream,
        IServerStreamWriter<PbV1.EmbedStreamResponse> responseStream, ServerCallContext context) =>
        ItemStreamAsync("EmbedStream", "call Embed (unary) once per item instead", requestStream, responseStream, context, item => item.Id,
            async (item, requestId, ct) =>
            {
                CheckItem(item.Id, item.Request);
                var embedding = await EmbedAsync(item.Request, "request.", requestId, ct).ConfigureAwait(false);
                return new PbV1.EmbedStreamResponse { Id = item.Id, Embedding = embedding };
            },
            (id, error) => new PbV1.EmbedStreamResponse { Id = id, Error = error });

    public override Task<PbV1.ClassifyResponse> Classify(PbV1.ClassifyRequest request, ServerCallContext context) =>
        calls.RunAsync("Classify", context, requestId => ClassifyAsync(request, "", requestId, context.CancellationToken));

    async Task<PbV1.ClassifyResponse> ClassifyAsync(PbV1.ClassifyRequest request, string prefix, string requestId, CancellationToken ct)
    {
        var result = await core.ClassifyAsync(new ClassifyRequest
        {
            Model = request.Model, Image = ProtoMapping.Image(request.Image) ?? ImageInput.Missing, Labels = request.Labels,
            Regions = request.Regions.Select(ProtoRegions.Source).ToArray(), Top = (int)Math.Min(request.Top, int.MaxValue), RequestId = requestId,
            LabelSet = request.LabelSet, Fields = ClassifyFields.Prefixed(prefix),
        }, ct).ConfigureAwait(false);
        var response = new PbV1.ClassifyResponse
        {
            Model = result.Model,
            Timings = ProtoMapping.ClassifyTimings(result.Timings),
        };
        foreach (var region in result.Regions)
        {
            var labels = new PbV1.RegionLabels();
            labels.Labels.AddRange(region.Labels.Select(l => new PbV1.LabelScore { Label = l.Label, Probability = l.Probability, Logit = l.Logit }));
            response.Regions.Add(labels);
        }
        return response;
    }

    public override Task ClassifyStream(IAsyncStreamReader<PbV1.ClassifyStreamRequest> requestStream,
        IServerStreamWriter<PbV1.ClassifyStreamResponse> responseStream, ServerCallContext context) =>
        ItemStreamAsync("ClassifyStream", "call Classify (unary) once per item instead", requestStream, responseStream, context, item => item.Id,
            async (item, requestId, ct) =>
            {
                CheckItem(item.Id, item.Request);
                var classification = await ClassifyAsync(item.Request, "request.", requestId, ct).ConfigureAwait(false);
                return new PbV1.ClassifyStreamResponse { Id = item.Id, Classification = classification };
            },
            (id, error) => new PbV1.ClassifyStreamResponse { Id = id, Error = error });

    public override Task<PbV1.CaptionResponse> Caption(PbV1.CaptionRequest request, ServerCallContext context) =>
        calls.RunAsync("Caption", context, requestId => CaptionAsync(request, "", requestId, context.CancellationToken));

    async Task<PbV1.CaptionResponse> CaptionAsync(PbV1.CaptionRequest request, string prefix, string requestId, CancellationToken ct)
    {
        var v = new RequestValidator(core.Options, prefix);
        if (request.Image == null) v.Add("image", "is required");
        v.Text(request.Instruction, "instruction", required: false);
        var sampling = ProtoMapping.Sampling(request.Sampling, request.MaxTokens, request.Stop);
        v.Sampling(sampling);
        v.ThrowIfAny();
        var image = new TurnImage(ProtoMapping.Image(request.Image), ProtoRegions.Source(request.Region), prefix + "image", prefix + "region");
        var turn = new TurnRequest
        {
            Model = request.Model, Messages = [TurnMessage.User(request.Instruction, image)], Sampling = sampling,
            KeepSession = false, Fields = TurnFields.Caption(prefix), RequestId = requestId,
            VisualTokenBudget = request.HasVisualTokenBudget ? request.VisualTokenBudget : null,
        };
        var text = new System.Text.StringBuilder();
        var response = new PbV1.CaptionResponse();
        await foreach (var e in core.RunTurnAsync(turn, ct).ConfigureAwait(false))
        {
            switch (e)
            {
                case TurnStarted s: response.Model = s.Model; break;
                case TurnText t:
                    text.Append(t.Text);
                    response.Logprobs.Add(t.Logprobs.Select(ProtoMapping.Logprob));
                    break;
                case TurnFinished f:
                    response.Reason = ProtoMapping.Reason(f.Reason);
                    response.Usage = ProtoMapping.Usage(f.Usage);
                    response.Timings = ProtoMapping.Timings(f.Timings);
                    break;
            }
        }
        response.Text = text.ToString();
        return response;
    }

    public override Task CaptionStream(IAsyncStreamReader<PbV1.CaptionStreamRequest> requestStream,
        IServerStreamWriter<PbV1.CaptionStreamResponse> responseStream, ServerCallContext context) =>
        ItemStreamAsync("CaptionStream", "call Caption (unary) once per item instead", requestStream, responseStream, context, item => item.Id,
            async (item, requestId, ct) =>
            {
                CheckItem(item.Id, item.Request);
                var caption = await CaptionAsync(item.Request, "request.", requestId, ct).ConfigureAwait(false);
                return new PbV1.CaptionStreamResponse { Id = item.Id, Caption = caption };
            },
            (id, error) => new PbV1.CaptionStreamResponse { Id = id, Error = error });

    /// <summary>A stream item's own fields: its id's length, and a request.</summary>
    void CheckItem(string id, object? request)
    {
        var v = new RequestValidator(core.Options);
        v.Id(id, "id");
        if (request == null) v.Add("request", "is required");
        v.ThrowIfAny();
    }

    /// <summary>
    /// A stream of items (CaptionStream, ClassifyStream, EmbedStream): each item admitted and counted like a call of its own (method
    /// "<paramref name="method"/>.item"), at most ParallelSequences of them running at once (so the engine batches them),
    /// results written as they finish, keyed by the client's id; an item's failure becomes an error result for its id.
    /// </summary>
    Task ItemStreamAsync<TIn, TOut>(string method, string unaryHint, IAsyncStreamReader<TIn> requestStream,
        IServerStreamWriter<TOut> responseStream, ServerCallContext context, Func<TIn, string> idOf,
        Func<TIn, string, CancellationToken, Task<TOut>> answer, Func<string, Google.Rpc.Status, TOut> failed) =>
        calls.RunAsync(method, context, async _ =>
        {
            GrpcWebStreaming.Refuse(context, method, unaryHint);
            using var writeGate = new SemaphoreSlim(1, 1);
            using var slots = new SemaphoreSlim(Math.Max(1, core.Options.ParallelSequences));
            var running = new List<Task>();
            // Ids of the items not yet answered: two results with one id could not be told apart, so a duplicate ends
            // the stream (INVALID_ARGUMENT naming it) after the items in flight are answered. Answered ids may come again.
            var inFlight = new HashSet<string>(StringComparer.Ordinal);
            var ct = context.CancellationToken;
            // At the end of a shutdown's drain the stream stops waiting for items: the host would wait for it, then cut it.
            using var reading = CancellationTokenSource.CreateLinkedTokenSource(ct, core.ShuttingDown);
            try
            {
                await foreach (var item in requestStream.ReadAllAsync(reading.Token).ConfigureAwait(false))
                {
                    string id = idOf(item);
                    lock (inFlight)
                    {
                        if (!inFlight.Add(id))
                            throw RegionChatCoreException.InvalidArgument("id", $"'{ClientText.Quote(id)}' is the id of an item still in flight " +
                                "on this stream: ids must be unique among the items not yet answered (an id may be reused once its result arrived)");
                    }
                    await slots.WaitAsync(ct).ConfigureAwait(false);
                    running.RemoveAll(t => t.IsCompleted);
                    running.Add(ItemAsync(method + ".item", item, id, answer, failed, responseStream, writeGate, slots, inFlight, ct));
                }
            }
            catch (OperationCanceledException) when (core.ShuttingDown.IsCancellationRequested && !ct.IsCancellationRequested)
            {
                // Ends the call once the finally below has let the items in flight write their results.
                throw RegionChatCoreException.Unavailable("the server is shutting down");
            }
            finally
            {
                // Never leave items running (and writing) after the call has ended.
                try { await Task.WhenAll(running).ConfigureAwait(false); }
                catch (OperationCanceledException) when (ct.IsCancellationRequested) { }
            }
        }, admit: false);

    /// <summary>One stream item: admitted like a call of its own; its failure becomes an error result for its id.</summary>
    async Task ItemAsync<TIn, TOut>(string method, TIn item, string id, Func<TIn, string, CancellationToken, Task<TOut>> answer,
        Func<string, Google.Rpc.Status, TOut> failed, IServerStreamWriter<TOut> responseStream, SemaphoreSlim writeGate, SemaphoreSlim slots,
        HashSet<string> inFlight, CancellationToken ct)
    {
        await Task.Yield();
        try
        {
            TOut? result = default;
            var error = await calls.RunItemAsync(method, id, async requestId => result = await answer(item, requestId, ct).ConfigureAwait(false), ct)
                .ConfigureAwait(false);
            if (error != null) result = failed(id, error);
            // Free before the result is sent: a client may reuse the id as soon as it has the result.
            lock (inFlight) inFlight.Remove(id);
            await writeGate.WaitAsync(ct).ConfigureAwait(false);
            try { await responseStream.WriteAsync(result!, ct).ConfigureAwait(false); }
            finally { writeGate.Release(); }
        }
        finally { slots.Release(); }
    }

    public override Task<PbV1.ImageRef> PutImage(PbV1.PutImageRequest request, ServerCallContext context) =>
        // Not admitted, as UploadImage: storing an image is bounded by the decode slots, and a full queue should not
        // stop a client from uploading the images of the requests it will send once there is room.
        calls.RunAsync("PutImage", context, async _ =>
            Stored(await core.PutImageAsync(request.Data.Memory, "data", context.CancellationToken).ConfigureAwait(false)), admit: false);

    public override Task<PbV1.ImageRef> UploadImage(IAsyncStreamReader<PbV1.ImageChunk> requestStream, ServerCallContext context) =>
        calls.RunAsync("UploadImage", context, async _ =>
        {
            GrpcWebStreaming.Refuse(context, "UploadImage", "send the image with PutImage (unary, up to RegionChat:MaxReceiveMessageBytes) instead");
            using var buffer = new MemoryStream();
            ulong? announced = null;
            await foreach (var chunk in requestStream.ReadAllAsync(context.CancellationToken).ConfigureAwait(false))
            {
                if (announced == null)
                {
                    announced = chunk.TotalBytes;
                    // The size told up front: an image too large is refused before its bytes, in PutImage's words.
                    if (announced > (ulong)core.Options.MaxImageBytes)
                        throw RegionChatCoreException.InvalidArgument("data",
                            ImageSizeLimit.TooLarge((long)Math.Min(announced.Value, long.MaxValue), core.Options.MaxImageBytes));
                }
                if (buffer.Length + chunk.Data.Length > core.Options.MaxImageBytes)
                    throw RegionChatCoreException.InvalidArgument("data",
                        ImageSizeLimit.TooLarge(buffer.Length + chunk.Data.Length, core.Options.MaxImageBytes, atLeast: true));
                chunk.Data.WriteTo(buffer);
            }
            if (buffer.Length == 0) throw RegionChatCoreException.InvalidArgument("data", "no bytes were uploaded");
            if (announced is > 0 && (ulong)buffer.Length != announced)
                throw RegionChatCoreException.InvalidArgument("total_bytes", $"announced {announced:N0} bytes but the chunks hold {buffer.Length:N0}");
            var bytes = buffer.GetBuffer().AsMemory(0, (int)buffer.Length);
            return Stored(await core.PutImageAsync(bytes, "data", context.CancellationToken).ConfigureAwait(false));
        }, admit: false);

    static PbV1.ImageRef Stored(StoredImageInfo image) =>
        new() { ImageId = image.Id, Width = (uint)image.Width, Height = (uint)image.Height, SizeBytes = (ulong)image.SizeBytes };

    public override Task<PbV1.ListModelsResponse> ListModels(PbV1.ListModelsRequest request, ServerCallContext context) =>
        calls.RunAsync("ListModels", context, _ => Task.FromResult(ProtoMapping.Models(core.ListModels(), core.Options.LabelSets)), admit: false);

    public override Task<PbV1.TokenizeResponse> Tokenize(PbV1.TokenizeRequest request, ServerCallContext context) =>
        calls.RunAsync("Tokenize", context, _ =>
        {
            var result = core.Tokenize(request.Model, request.Text, request.AddBos, "text");
            return Task.FromResult(new PbV1.TokenizeResponse
            {
                Model = result.Model, SessionContextSize = (uint)result.SessionContext,
                Tokens = { result.Tokens.Select(t => new PbV1.TextToken { Id = t.Id, Bytes = Google.Protobuf.ByteString.CopyFrom(t.Bytes) }) },
            });
        }, admit: false);

    public override Task<PbV1.DetokenizeResponse> Detokenize(PbV1.DetokenizeRequest request, ServerCallContext context) =>
        calls.RunAsync("Detokenize", context, _ =>
        {
            var result = core.Detokenize(request.Model, request.TokenIds, "token_ids");
            return Task.FromResult(new PbV1.DetokenizeResponse { Model = result.Model, Text = result.Text });
        }, admit: false);

    public override Task<PbV1.EndSessionResponse> EndSession(PbV1.EndSessionRequest request, ServerCallContext context) =>
        calls.RunAsync("EndSession", context, _ =>
        {
            // gRPC clients mark a retry with grpc-previous-rpc-attempts (RegionChat.Client retries UNAVAILABLE calls that
            // got no answer): a session gone by then may have been ended by the attempt whose answer was lost.
            bool retried = int.TryParse(context.RequestHeaders.GetValue("grpc-previous-rpc-attempts"), out int attempts) && attempts > 0;
            core.EndSession(request.SessionId, retried);
            return Task.FromResult(new PbV1.EndSessionResponse());
        }, admit: false);
}
