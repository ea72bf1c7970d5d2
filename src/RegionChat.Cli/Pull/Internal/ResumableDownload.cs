using System.Globalization;
using System.Net;
using System.Net.Http.Headers;

namespace RegionChat.Cli.Pull.Internal;

/// <summary>
/// Fetches one URL into a partial file, continuing where an earlier attempt stopped (HTTP Range). A server that answers
/// a range request with the whole file (200 instead of 206) is followed: the partial file starts over. A broken
/// connection keeps what arrived, so the next run asks only for the rest. The file's ETag (or Last-Modified) is kept
/// beside the partial file and sent as If-Range, so a file that changed on the server meanwhile starts over instead of
/// being spliced from two versions (which a file without a SHA-256 would pass).
/// </summary>
internal sealed class ResumableDownload(HttpClient http, TextWriter error, bool interactive, TimeSpan idleTimeout, Func<Uri, string?> tokenFor)
{
    const int BufferSize = 1 << 20;

    /// <summary>Downloads <paramref name="url"/> into <paramref name="partial"/> until the server has sent everything
    /// (it is checked afterwards). <paramref name="file"/> names the file in messages; <paramref name="hashed"/> says
    /// whether the check includes a SHA-256 (without one, a partial file that cannot be validated is not resumed).</summary>
    public async Task RunAsync(string file, Uri url, string partial, long? expectedBytes, bool hashed, CancellationToken cancellation)
    {
        long have = File.Exists(partial) ? new FileInfo(partial).Length : 0;
        if (expectedBytes is { } n && have > n) have = Restart(partial);
        if (expectedBytes is { } m && have == m) return; // an earlier run got every byte but stopped before the check
        string? validator = have > 0 && File.Exists(ValidatorPath(partial)) ? File.ReadAllText(ValidatorPath(partial)).Trim() : null;
        if (have > 0 && validator == null && !hashed)
        {
            error.WriteLine($"{file}: the partial download cannot be checked against the server's file (no ETag or Last-Modified was " +
                            "kept, and the manifest has no SHA-256): starting over");
            have = Restart(partial);
        }

        using var request = new HttpRequestMessage(HttpMethod.Get, url);
        if (have > 0) request.Headers.Range = new RangeHeaderValue(have, null);
        if (have > 0 && validator != null) request.Headers.IfRange = IfRange(validator);
        // .NET drops it on a redirect (Hugging Face sends the bytes from a CDN whose signed URL needs none).
        if (tokenFor(url) is { } token) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        // Cancelled when the server stays silent for idleTimeout: first for the response headers, then between reads.
        using var idle = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
        idle.CancelAfter(idleTimeout);
        HttpResponseMessage response;
        try
        {
            response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, idle.Token);
        }
        catch (Exception e) when (e is HttpRequestException || e is OperationCanceledException && !cancellation.IsCancellationRequested)
        {
            throw new PullException($"{file}: cannot fetch {url}: {(e is HttpRequestException ? e.Message : $"no answer in {idleTimeout.TotalSeconds:F0} s")}",
                transient: true);
        }
        using (response)
        {
            if (response.StatusCode == HttpStatusCode.RequestedRangeNotSatisfiable && have > 0) return; // nothing after `have`: the check decides
            if (!response.IsSuccessStatusCode) throw Refused(file, url, response);
            if (response.Content.Headers.ContentType?.MediaType is "text/html")
                throw new PullException($"{file}: {url} sent an HTML page (Content-Type text/html), not the file; nothing installed");

            bool append = response.StatusCode == HttpStatusCode.PartialContent;
            if (append && response.Content.Headers.ContentRange?.From != have)
                throw new PullException($"{file}: {url} answered the range request from byte {have} with " +
                                        $"'{response.Content.Headers.ContentRange}'; delete {partial} and rerun");
            string? served = ValidatorOf(response);
            if (append && validator != null && served != null && served != validator)
            {
                // A server that ignores If-Range: the rest of another version must not be appended.
                Restart(partial);
                throw new PullException($"{file}: {url} changed since the partial download ({served}, was {validator}); starting over",
                    transient: true);
            }
            if (!append && have > 0)
            {
                error.WriteLine(validator != null && served != validator
                    ? $"{file}: the file on the server changed since the partial download (If-Range {validator}, now {served ?? "none"}): starting over"
                    : $"{file}: the server ignored the range request (200, not 206): starting over");
                have = Restart(partial);
            }
            if (!append)
            {
                if (served != null) File.WriteAllText(ValidatorPath(partial), served);
                else File.Delete(ValidatorPath(partial));
            }
            long? total = append ? response.Content.Headers.ContentRange?.Length ?? have + response.Content.Headers.ContentLength
                                 : response.Content.Headers.ContentLength;
            if (expectedBytes is { } e && total is { } t && t != e)
                throw new PullException(string.Create(CultureInfo.InvariantCulture,
                    $"{file}: {url} has {t:N0} bytes, the manifest says {e:N0}; nothing installed"));

            var bar = new DownloadProgressBar(error, interactive, file, have, total ?? expectedBytes);
            long received = have;
            try
            {
                await using var body = await response.Content.ReadAsStreamAsync(cancellation);
                await using var output = new FileStream(partial, append ? FileMode.Append : FileMode.Create, FileAccess.Write, FileShare.None,
                    BufferSize, useAsync: true);
                var buffer = new byte[BufferSize];
                while (true)
                {
                    idle.CancelAfter(idleTimeout);
                    int read = await body.ReadAsync(buffer, idle.Token);
                    if (read == 0) break;
                    idle.CancelAfter(Timeout.InfiniteTimeSpan);   // a slow disk is not a silent host
                    await output.WriteAsync(buffer.AsMemory(0, read), cancellation);
                    received += read;
                    bar.Report(received);
                }
                // On disk before it is checked and renamed into place: after a power cut the final name never holds a
                // file cut short (which a file without a hash would pass as present).
                output.Flush(flushToDisk: true);
            }
            catch (Exception ex) when (ex is IOException or HttpRequestException
                                           || ex is OperationCanceledException && !cancellation.IsCancellationRequested)
            {
                bar.Finish();
                string why = ex is OperationCanceledException ? $"no data for {idleTimeout.TotalSeconds:F0} s" : ex.Message;
                throw new PullException(string.Create(CultureInfo.InvariantCulture,
                    $"{file}: the download broke after {received:N0}{(total is { } tt ? $" of {tt:N0}" : "")} bytes ({why}); they are kept in {partial}: " +
                    $"rerun pull to resume"), transient: true);
            }
            bar.Finish();
        }
    }

    /// <summary>A status that is not success: transient for 408, 429 and 5xx (with the host's Retry-After), else final, with
    /// what usually causes it.</summary>
    PullException Refused(string file, Uri url, HttpResponseMessage response)
    {
        int status = (int)response.StatusCode;
        string answer = $"{file}: {url} answered {status} {response.ReasonPhrase}";
        if (status is 408 or 429 || status >= 500)
        {
            var retry = response.Headers.RetryAfter;
            TimeSpan? wait = retry?.Delta ?? (retry?.Date is { } date ? date - DateTimeOffset.UtcNow : null);
            return new PullException(answer + "; rerun pull to resume", transient: true, wait is { } w && w > TimeSpan.Zero ? w : null);
        }
        string hint = status switch
        {
            401 or 403 when tokenFor(url) == null => ": a gated or private repository, or a wrong URL (set HF_TOKEN for Hugging Face)",
            401 or 403 => ": the token (HF_TOKEN) is refused, or the repository's terms are not accepted on its page",
            404 => ": the file or revision is not there (check the manifest's URL)",
            _ => "",
        };
        return new PullException($"{answer}{hint}; nothing installed");
    }

    static long Restart(string partial)
    {
        File.Delete(partial);
        File.Delete(ValidatorPath(partial));
        return 0;
    }

    /// <summary>Where the ETag or Last-Modified of the file a partial download came from is kept.</summary>
    public static string ValidatorPath(string partial) => partial + ".etag";

    /// <summary>Removes a partial download and what was kept with it.</summary>
    public static void Discard(string partial) => Restart(partial);

    /// <summary>The response's strong ETag (quoted), else its Last-Modified as an HTTP date; null when it has neither
    /// (a weak ETag cannot guard a range).</summary>
    static string? ValidatorOf(HttpResponseMessage response) =>
        response.Headers.ETag is { IsWeak: false } tag ? tag.Tag
        : response.Content.Headers.LastModified is { } date ? date.ToString("R", CultureInfo.InvariantCulture)
        : null;

    static RangeConditionHeaderValue IfRange(string validator) =>
        validator.StartsWith('"') ? new RangeConditionHeaderValue(validator)
                                  : new RangeConditionHeaderValue(DateTimeOffset.Parse(validator, CultureInfo.InvariantCulture));
}
