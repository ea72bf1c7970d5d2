using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net.Http;
using System.Text.Json.Nodes;
using RegionChat.Client;
using PbV1 = RegionChat.Protos.V1;

namespace RegionChat.CaptionBatch.Internal;

/// <summary>
/// One server's share of the job: a CaptionStream call (ClassifyStream with --task classify, EmbedStream with --task
/// embed) that keeps up to Concurrency items in flight, taking items from the shared queue as results come back, through
/// <see cref="RegionChatClient"/>. Images are stored once per server (by content id; again when the server has dropped
/// one) and then referred to by id.
/// When the stream or the connection fails, the items in flight go back to the queue (other lanes take them) and the
/// lane reconnects with backoff; after more consecutive failures than the job's retries it counts as down.
/// Every call carries the lane's routing key (x-regionchat-session), so that a load balancer hashing on it sends the
/// lane's uploads and its stream to one replica; after a failure the lane reconnects with a new key and a new client
/// (which has uploaded nothing yet), so a lost replica's lane moves to a live one and uploads its images there.
/// </summary>
internal sealed class ServerLane : IDisposable
{
    static readonly TimeSpan ProbeTimeout = TimeSpan.FromSeconds(10), UploadTimeout = TimeSpan.FromMinutes(2);
    /// <summary>How long a stream whose items are all done waits for the server to end it.</summary>
    static readonly TimeSpan StreamEndTimeout = TimeSpan.FromSeconds(10);

    readonly JobState job;
    readonly LocalImages images;
    readonly string address, routingKey;
    RegionChatClient client;
    int resultsThisStream, generation;
    // The stream's items in flight adapt to a server whose queue is full (RESOURCE_EXHAUSTED): one fewer for each
    // refusal, one more after a window's worth of answers; at one in flight, refusals make the sender wait.
    int windowSize, answersSinceGrowth, exhaustedAtOne;
    long pausedUntilMs;
    // When the stream last answered an item (Stopwatch ticks): the item timeout counts from it.
    long lastAnswer;

    sealed class InFlight(WorkItem item)
    {
        public WorkItem Item { get; } = item;
        /// <summary>When it was sent (Stopwatch ticks); 0 while it is still being prepared (its image uploaded).</summary>
        public long Sent;
    }

    /// <param name="address">The server's address.</param>
    /// <param name="name">The lane's name in the summary and the log (the address, with "#k" when a server has several).</param>
    /// <param name="routingKey">Sent as x-regionchat-session (with the connection's generation) on every call.</param>
    public ServerLane(JobState job, LocalImages images, string address, string name, string routingKey)
    {
        this.job = job;
        this.images = images;
        this.address = address;
        this.routingKey = routingKey;
        Stats = job.AddServer(name);
        client = NewClient();
    }

    RegionChatClient NewClient()
    {
        var channel = RegionChatClient.DefaultChannelOptions();
        // Pings after a silence while a call runs: a server that froze or vanished without closing the connection fails
        // it, where the stream's read would wait forever.
        channel.HttpHandler = new SocketsHttpHandler
        {
            EnableMultipleHttp2Connections = true,
            KeepAlivePingDelay = job.Options.KeepAlive,
            KeepAlivePingTimeout = job.Options.KeepAlive,
            KeepAlivePingPolicy = HttpKeepAlivePingPolicy.WithActiveRequests,
        };
        channel.DisposeHttpClient = true;
        return new(ServerAddress.Parse(address), job.Options.ApiKey, channel) { RoutingKey = $"{routingKey}-{++generation}" };
    }

    public ServerStats Stats { get; }
    string Address => Stats.Address;

    public async Task RunAsync()
    {
        // Wakes the lane from a backoff or a probe when the job ends or every item is done.
        using var lifetime = CancellationTokenSource.CreateLinkedTokenSource(job.Token, job.Queue.Finished);
        var ct = lifetime.Token;
        int failures = 0;
        while (!ct.IsCancellationRequested)
        {
            if (failures > 0)
            {
                try { await Task.Delay(job.Backoff(failures), ct).ConfigureAwait(false); }
                catch (OperationCanceledException) { break; }
                // A new key: behind a balancer the lane may land on another replica, which has none of its images.
                var old = client;
                client = NewClient();
                old.Dispose();
            }
            resultsThisStream = 0;
            try
            {
                await ProbeAsync(ct).ConfigureAwait(false);
                job.SetDown(Stats, false);
                await StreamAsync().ConfigureAwait(false);
                failures = 0;
                if (job.Queue.IsFinished) break;
            }
            catch (Exception) when (ct.IsCancellationRequested)
            {
                // The job ended (or every item is done) while this lane probed or streamed: not the server's failure.
                break;
            }
            catch (RegionChatException e) when (RpcOutcomes.IsRefused(e.StatusCode))
            {
                Stats.LastError = RpcOutcomes.Describe(e);
                job.Abort($"server {Address} refused the job: {RpcOutcomes.Describe(e)}", e, refused: true);
                break;
            }
            catch (Exception e) when (IsConnectionFailure(e))
            {
                // A stream that delivered results before failing is a fresh failure, not one more in a row.
                failures = resultsThisStream > 0 ? 1 : failures + 1;
                Interlocked.Increment(ref Stats.Failures);
                Stats.LastError = Describe(e);
                // Once down, only its coming back is news.
                if (!job.Token.IsCancellationRequested && !Stats.Down)
                    job.Log($"server {Address}: {Stats.LastError} (failure {failures} in a row)");
                if (failures > job.Options.Retries) job.SetDown(Stats, true);
            }
            catch (Exception e)
            {
                // Neither the server nor the network (a bug, a record that cannot be written): stop the job rather than
                // leave the item this lane held unresolved, which the other lanes would wait for forever.
                job.Abort($"the job failed (server {Address}): {e.GetType().Name}: {e.Message}; rerun the same command to resume", e);
                break;
            }
        }
    }

    /// <summary>What makes a lane back off and reconnect: a failed call or stream, a broken connection, or a call that
    /// timed out (cancelled while the job itself goes on).</summary>
    static bool IsConnectionFailure(Exception e) =>
        e is RegionChatException or IOException or HttpRequestException or ObjectDisposedException or OperationCanceledException;

    static string Describe(Exception e) => e switch
    {
        RegionChatException r => RpcOutcomes.Describe(r),
        OperationCanceledException => "no answer in time",
        ServerGoingAwayException or ServerStalledException => e.Message,
        _ => $"{e.GetType().Name}: {e.Message}",
    };

    /// <summary>A cheap call first, so a dead server fails here and takes no item.</summary>
    async Task ProbeAsync(CancellationToken ct)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(ProbeTimeout);
        await client.ListModelsAsync(timeout.Token).ConfigureAwait(false);
    }

    /// <summary>One CaptionStream call until the queue is done (returns) or the call fails (throws, after handing the
    /// items in flight back to the queue).</summary>
    async Task StreamAsync()
    {
        using var streamStop = CancellationTokenSource.CreateLinkedTokenSource(job.Token);
        var ct = streamStop.Token;
        var inflight = new ConcurrentDictionary<string, InFlight>(StringComparer.Ordinal);
        using var window = new SemaphoreSlim(job.Options.Concurrency);
        (windowSize, answersSinceGrowth, exhaustedAtOne) = (job.Options.Concurrency, 0, 0);
        using var stream = new LaneStream(client, job.Options, ct);
        Volatile.Write(ref lastAnswer, Stopwatch.GetTimestamp());
        // Cancelled when the server says it is shutting down: no more items go to it, and those in flight finish there
        // (its drain) unless the stream ends first.
        using var sendStop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var sender = SendAsync(stream, inflight, window, sendStop, ct);
        var reader = ReadAsync(stream, inflight, window, sendStop, ct);
        var watchdog = WatchAsync(inflight, streamStop);
        Exception? failure = null;
        try
        {
            var first = await Task.WhenAny(sender, reader).ConfigureAwait(false);
            await first.ConfigureAwait(false);
            if (first == reader && !sender.IsCompleted)
                throw new IOException("the server ended the stream while items were still to be sent");
            // The sender ends when every item of the job is resolved: nothing is left to wait for but the server's end of
            // the stream, which a server that hangs (pings still answered) never sends. A server going away ends the
            // stream once it has answered the items in flight (the watchdog stops one that stops answering them).
            while (sendStop.IsCancellationRequested && !inflight.IsEmpty && !reader.IsCompleted)
                await Task.WhenAny(reader, Task.Delay(100, CancellationToken.None)).ConfigureAwait(false);
            try { await reader.WaitAsync(StreamEndTimeout).ConfigureAwait(false); }
            catch (TimeoutException) { /* the stream is cancelled below */ }
            if (sendStop.IsCancellationRequested && !ct.IsCancellationRequested) throw new ServerGoingAwayException("the server is shutting down");
        }
        catch (Exception e)
        {
            failure = e;
        }
        streamStop.Cancel();
        try { await Task.WhenAll(sender, reader).ConfigureAwait(false); }
        catch (Exception) { /* reported through failure */ }
        // A write that failed because the call had ended says less than the read that saw why it ended; a read that was
        // cancelled under the lane (grpc-dotnet's call may end so on a dead connection) less than a write or upload that saw why.
        if (failure is not (null or RegionChatException))
        {
            if (reader.Exception?.InnerException is RegionChatException readCause) failure = readCause;
            else if (failure is OperationCanceledException && sender.Exception?.InnerException is RegionChatException sendCause) failure = sendCause;
        }
        // The reads and writes the watchdog cancelled say only that they were cancelled.
        if (await watchdog.ConfigureAwait(false) is { } stalled) failure = stalled;

        // The job is stopping: the items in flight stay unrecorded (a rerun does them).
        if (job.Token.IsCancellationRequested) return;
        string reason = failure == null ? "the stream ended without its result" : $"server {Address}: {Describe(failure)}";
        job.AddInFlight(-inflight.Count);
        foreach (var entry in inflight.Values) job.Retry(entry.Item, reason, Stats);
        inflight.Clear();
        if (failure != null) throw failure;
    }

    /// <param name="sendStop">Cancelled when no more items are to be sent (the server is going away): the stream is then
    /// half-closed, so the server answers what it has and ends it.</param>
    async Task SendAsync(LaneStream stream, ConcurrentDictionary<string, InFlight> inflight, SemaphoreSlim window, CancellationTokenSource sendStop,
        CancellationToken ct)
    {
        var take = sendStop.Token;
        while (true)
        {
            WorkItem? item;
            try
            {
                await window.WaitAsync(take).ConfigureAwait(false);
                // A server whose queue stayed full with one item in flight gets a breather before the next.
                long pause = Volatile.Read(ref pausedUntilMs) - Environment.TickCount64;
                if (pause > 0) await Task.Delay(TimeSpan.FromMilliseconds(pause), take).ConfigureAwait(false);
                item = await job.Queue.TakeAsync(take).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (take.IsCancellationRequested && !ct.IsCancellationRequested)
            {
                break;
            }
            if (item == null) break;
            // Tracked before anything can fail, so a failure below hands it back with the rest.
            var entry = new InFlight(item);
            inflight[item.Id] = entry;
            job.AddInFlight(1);
            ((string ImageId, PbV1.Region Region) Request, string? Error, bool Transient) prepared;
            try
            {
                prepared = await PrepareAsync(entry, ct).ConfigureAwait(false);
            }
            catch (RegionChatException e) when (e.StatusCode == Grpc.Core.StatusCode.Unavailable && !ct.IsCancellationRequested)
            {
                // The image's upload was refused: the server is going away (or gone, which the reader will see). This item
                // goes back to the queue and no more follow; the items in flight finish there while it drains.
                inflight.TryRemove(item.Id, out _);
                job.AddInFlight(-1);
                window.Release();
                job.Retry(item, $"server {Address}: {RpcOutcomes.Describe(e)}", Stats);
                await sendStop.CancelAsync().ConfigureAwait(false);
                break;
            }
            var (request, error, transient) = prepared;
            if (error != null)
            {
                inflight.TryRemove(item.Id, out _);
                job.AddInFlight(-1);
                window.Release();
                if (transient) job.Retry(item, error, Stats);
                else job.Failed(item, error, Stats);
                continue;
            }
            Volatile.Write(ref entry.Sent, Stopwatch.GetTimestamp());
            // On a stream that has ended (the server went away meanwhile) this throws why it ended.
            await stream.SendAsync(item, request.ImageId, request.Region, ct).ConfigureAwait(false);
        }
        await stream.CompleteAsync().ConfigureAwait(false);
    }

    async Task ReadAsync(LaneStream stream, ConcurrentDictionary<string, InFlight> inflight, SemaphoreSlim window, CancellationTokenSource sendStop,
        CancellationToken ct)
    {
        await foreach (var result in stream.ReadAllAsync(ct).ConfigureAwait(false))
        {
            Volatile.Write(ref lastAnswer, Stopwatch.GetTimestamp());
            if (!inflight.TryRemove(result.Id, out var entry)) continue; // not ours (cannot happen): ignore
            job.AddInFlight(-1);
            Interlocked.Increment(ref resultsThisStream);
            Resize(window, exhausted: result.Error?.StatusCode == Grpc.Core.StatusCode.ResourceExhausted);
            // The server is going away: stop feeding it (its stream would refuse every item at once) and read on while it
            // answers the items in flight; once it ends the stream, the lane reconnects after a backoff (behind a balancer,
            // to another replica).
            if (!Handle(entry, result)) sendStop.Cancel();
        }
    }

    /// <summary>Stops the stream (returning why) once items are in flight and none has been answered for the item
    /// timeout, counted from the later of the stream's last answer and the item's sending: a server that hangs while its
    /// connection stays up (pings answered) would hold them forever. Null when the stream ended otherwise.</summary>
    async Task<Exception?> WatchAsync(ConcurrentDictionary<string, InFlight> inflight, CancellationTokenSource stop)
    {
        var limit = job.Options.ItemTimeout;
        if (limit <= TimeSpan.Zero) return null;
        var every = TimeSpan.FromTicks(Math.Clamp(limit.Ticks / 4, TimeSpan.TicksPerMillisecond * 10, TimeSpan.TicksPerSecond));
        try
        {
            while (true)
            {
                await Task.Delay(every, stop.Token).ConfigureAwait(false);
                long last = Volatile.Read(ref lastAnswer);
                if (!inflight.Values.Any(e => Volatile.Read(ref e.Sent) is > 0 and var sent && Stopwatch.GetElapsedTime(Math.Max(sent, last)) > limit))
                    continue;
                var stalled = new ServerStalledException(string.Create(CultureInfo.InvariantCulture,
                    $"no answer for {limit.TotalSeconds:0.###} s (--item-timeout) with {inflight.Count} items in flight"));
                stop.Cancel();
                return stalled;
            }
        }
        catch (OperationCanceledException)
        {
            return null;
        }
    }

    /// <summary>Gives back the answered item's place in the window, or keeps it when the server's queue was full (one
    /// fewer in flight, down to one); grows the window back by one after as many answers as it holds. Only the reader
    /// calls this.</summary>
    void Resize(SemaphoreSlim window, bool exhausted)
    {
        if (exhausted && windowSize > 1)
        {
            windowSize--;
            answersSinceGrowth = 0;
            return;
        }
        window.Release();
        if (exhausted)
        {
            // Full even with one item in flight: wait before the next (another client holds the queue).
            Volatile.Write(ref pausedUntilMs, Environment.TickCount64 + (long)job.Backoff(++exhaustedAtOne).TotalMilliseconds);
            return;
        }
        exhaustedAtOne = 0;
        if (windowSize < job.Options.Concurrency && ++answersSinceGrowth >= windowSize)
        {
            windowSize++;
            answersSinceGrowth = 0;
            window.Release();
        }
    }

    /// <summary>Records or requeues one result; false when it says the server is going away.</summary>
    bool Handle(InFlight entry, LaneResult result)
    {
        var item = entry.Item;
        if (result.Classification is { } classification)
        {
            var t = classification.Timings ?? new PbV1.ClassifyTimings();
            job.Classified(item, classification.Regions[0].Labels.Select(l => (l.Label, l.Probability)), classification.Model,
                BatchClassify.Timings(Stopwatch.GetElapsedTime(entry.Sent).TotalMilliseconds, t.ImageDecodeMs, t.VisionEncodeMs, t.TextEncodeMs,
                    (int)t.TextCacheHits), Stats);
            return true;
        }
        if (result.Embedding is { } embedding)
        {
            var t = embedding.Timings ?? new PbV1.ClassifyTimings();
            job.Embedded(item, embedding.Regions[0].Values, embedding.Model,
                BatchClassify.EmbedTimings(Stopwatch.GetElapsedTime(entry.Sent).TotalMilliseconds, t.ImageDecodeMs, t.VisionEncodeMs), Stats);
            return true;
        }
        if (result.Caption is { } caption)
        {
            if (caption.Reason == PbV1.FinishReason.Cancelled)
            {
                // The server stopped the item (shutting down): its text is cut short, so it runs again.
                job.Retry(item, $"server {Address} cancelled the item", Stats);
                return false;
            }
            double totalMs = Stopwatch.GetElapsedTime(entry.Sent).TotalMilliseconds;
            job.Captioned(item, caption.Text.Trim(), caption.Model, Timings(caption.Timings, totalMs), Stats,
                job.Options.Logprobs ? caption.Logprobs.Select(l => l.Logprob).ToArray() : null);
            return true;
        }
        var error = result.Error!;
        var code = error.StatusCode;
        string message = RpcOutcomes.Describe(code, error.Detail);
        if (job.Options.TaskKind != CaptionBatchTask.Caption
            && BatchClassify.IsJobWide(code == Grpc.Core.StatusCode.InvalidArgument,
                code == Grpc.Core.StatusCode.FailedPrecondition, error.FieldViolations.Select(v => v.Field)))
        {
            // The job's labels (or the model), not this item: every item would fail alike.
            job.Abort(BatchClassify.JobWideMessage(job.Options.TaskKind, message, error.FieldViolations.Select(v => (v.Field, v.Description))),
                refused: true);
            return true;
        }
        if (job.Options.TaskKind == CaptionBatchTask.Caption && code == Grpc.Core.StatusCode.InvalidArgument
            && CaptionRefusals.BlamedOption(item, job.Options, error.FieldViolations.Select(v => v.Field)) is { } option)
        {
            // The job's max tokens or instruction, not this item: every item would fail alike, so no error record.
            job.Abort($"{option}: server {Address} refuses it: {message}", refused: true);
            return true;
        }
        // An image the server dropped from its store: the client has forgotten it, so the retry uploads it again.
        if (RpcOutcomes.IsImageGone(code, error.Detail) || RpcOutcomes.IsTransient(code)) job.Retry(item, message, Stats);
        else job.Failed(item, message, Stats);
        return code != Grpc.Core.StatusCode.Unavailable;
    }

    /// <summary>The item as a request: region parsed and mapped, image uploaded (once) and referred to by id. A reason
    /// the item cannot run (bad region, missing or corrupt image) comes back as the error record's text; a local read that
    /// failed and may work again comes back <c>Transient</c> (the item is retried, not recorded).</summary>
    async Task<((string ImageId, PbV1.Region Region) Request, string? Error, bool Transient)> PrepareAsync(InFlight entry, CancellationToken ct)
    {
        var item = entry.Item;
        var (region, regionError, regionTransient) = ItemRegions.Describe(item, job.InputFolder);
        if (region == null) return (default, regionError, regionTransient);
        PbV1.Region protoRegion;
        try
        {
            protoRegion = ImageRegion.From(region).ToProto();
        }
        catch (ArgumentException e)
        {
            return (default, "region: " + e.Message, false);
        }

        var image = await images.GetAsync(item.Input.ImagePath).ConfigureAwait(false);
        if (image.Error != null) return (default, image.Error, image.Transient);
        string imageId;
        try
        {
            imageId = await StoreAsync(image, ct).ConfigureAwait(false);
        }
        catch (RegionChatException e) when (!RpcOutcomes.IsTransient(e.StatusCode) && !RpcOutcomes.IsRefused(e.StatusCode))
        {
            // The server looked at the bytes and refused them (not an image, too large, …): this image never works.
            return (default, $"image '{image.Path}': {RpcOutcomes.Describe(e)}", false);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return (default, $"image: cannot read '{image.Path}': {e.Message}", LocalImages.IsTransient(e));
        }

        return ((imageId, protoRegion), null, false);
    }

    /// <summary>The image's id on this server: stored once per server, and again after the server dropped it. A transient
    /// failure (or a timeout) throws, failing the stream: the items go back to the queue.</summary>
    async Task<string> StoreAsync(LocalImage image, CancellationToken ct)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(UploadTimeout);
        bool uploaded = false;
        var stored = await client.StoreImageAsync(image.ContentId!, async readCt =>
        {
            uploaded = true;
            return (ReadOnlyMemory<byte>)await File.ReadAllBytesAsync(image.Path, readCt).ConfigureAwait(false);
        }, timeout.Token).ConfigureAwait(false);
        if (uploaded) Interlocked.Increment(ref Stats.Uploads);
        return stored.ImageId;
    }

    static JsonObject Timings(PbV1.Timings? t, double totalMs)
    {
        t ??= new PbV1.Timings();
        return new JsonObject
        {
            ["total_ms"] = Round(totalMs),
            ["queue_ms"] = Round(t.QueueMs),
            ["image_decode_ms"] = Round(t.ImageDecodeMs),
            ["vision_encode_ms"] = Round(t.VisionEncodeMs),
            ["prefill_ms"] = Round(t.PrefillMs),
            ["decode_ms"] = Round(t.DecodeMs),
            ["time_to_first_token_ms"] = Round(t.TimeToFirstTokenMs),
            ["decode_tokens_per_second"] = Round(t.DecodeTokensPerSecond),
            ["visual_cache_hit"] = t.VisualCacheHit,
        };
    }

    internal static double Round(double v) => double.IsFinite(v) ? Math.Round(v, 2) : 0;

    /// <summary>A result said the server is shutting down: the stream ends like a failed one.</summary>
    sealed class ServerGoingAwayException(string message) : IOException(message);

    /// <summary>The stream answered nothing for the item timeout: it ends like a failed one.</summary>
    sealed class ServerStalledException(string message) : IOException(message);

    public void Dispose() => client.Dispose();
}
