using System.Collections.Concurrent;
using PbV1 = RegionChat.Protos.V1;

namespace RegionChat.Client.Internal;

/// <summary>
/// The images one client has stored on its server, by content id, so each is uploaded once however many requests use
/// it. Concurrent stores of the same image share one upload, which runs on its first caller's token; each caller waits
/// on its own. A failed upload is forgotten, so the next store tries again, and one its first caller cancelled is made
/// again by the callers still waiting (one user's disconnect must not fail another's request).
/// </summary>
internal sealed class ImageUploads
{
    readonly ConcurrentDictionary<string, Lazy<Task<PbV1.ImageRef>>> stored = new(StringComparer.Ordinal);

    public async Task<PbV1.ImageRef> GetOrUploadAsync(string contentId, Func<Task<PbV1.ImageRef>> upload, CancellationToken cancellationToken)
    {
        while (true)
        {
            var created = new Lazy<Task<PbV1.ImageRef>>(upload);
            var entry = stored.GetOrAdd(contentId, created);
            try
            {
                return await entry.Value.WaitAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                // This caller's own cancel: an upload others share goes on; its own, cancelled, is forgotten.
                if (entry.Value.IsCompleted && !entry.Value.IsCompletedSuccessfully) stored.TryRemove(KeyValuePair.Create(contentId, entry));
                throw;
            }
            catch (OperationCanceledException) when (!ReferenceEquals(entry, created))
            {
                stored.TryRemove(KeyValuePair.Create(contentId, entry)); // another caller's cancel: upload on this one's token
            }
            catch
            {
                stored.TryRemove(KeyValuePair.Create(contentId, entry));
                throw;
            }
        }
    }

    public bool Contains(string contentId) =>
        stored.TryGetValue(contentId, out var entry) && entry.IsValueCreated && entry.Value.IsCompletedSuccessfully;

    public void Forget(string contentId) => stored.TryRemove(contentId, out _);
}
