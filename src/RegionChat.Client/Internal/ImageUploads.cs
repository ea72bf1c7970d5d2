using System.Collections.Concurrent;
using PbV1 = RegionChat.Protos.V1;

namespace RegionChat.Client.Internal;

/// <summary>
/// The images one client has stored on its server, by content id, so each is uploaded once however many requests use
/// it. Concurrent stores of the same image share one upload, which runs on its first caller's token; each caller waits
/// on its own. A failed upload is forgotten, so the next store tries again, and one its first caller cancelled is made
/// again by the callers still waiting (one user's disconnect must not fail another's request). It remembers the last
/// <see cref="Capacity"/> images stored (a batch job over millions of images would otherwise keep every id for the
/// client's life): an older one is uploaded again when it is used again.
/// </summary>
internal sealed class ImageUploads(int capacity = ImageUploads.DefaultCapacity)
{
    public const int DefaultCapacity = 1 << 16;
    readonly ConcurrentDictionary<string, Lazy<Task<PbV1.ImageRef>>> stored = new(StringComparer.Ordinal);
    readonly ConcurrentQueue<string> order = new();

    public int Capacity { get; } = capacity;

    public async Task<PbV1.ImageRef> GetOrUploadAsync(string contentId, Func<Task<PbV1.ImageRef>> upload, CancellationToken cancellationToken)
    {
        while (true)
        {
            var created = new Lazy<Task<PbV1.ImageRef>>(upload);
            var entry = stored.GetOrAdd(contentId, created);
            if (ReferenceEquals(entry, created)) Remember(contentId);
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

    /// <summary>Forgets the oldest finished uploads once more than <see cref="Capacity"/> are remembered, down to three
    /// quarters of it (an upload still running is kept); drops the ids of images forgotten otherwise from the order.</summary>
    void Remember(string contentId)
    {
        order.Enqueue(contentId);
        if (stored.Count <= Capacity && order.Count <= 2 * Capacity) return;
        lock (order)
        {
            for (int seen = order.Count; seen > 0 && (stored.Count > Capacity * 3 / 4 || order.Count > Capacity) && order.TryDequeue(out var oldest); seen--)
            {
                if (!stored.TryGetValue(oldest, out var entry)) continue; // forgotten, or its upload failed
                if (stored.Count > Capacity * 3 / 4 && entry.IsValueCreated && entry.Value.IsCompleted) stored.TryRemove(KeyValuePair.Create(oldest, entry));
                else order.Enqueue(oldest);
            }
        }
    }

    public bool Contains(string contentId) =>
        stored.TryGetValue(contentId, out var entry) && entry.IsValueCreated && entry.Value.IsCompletedSuccessfully;

    public void Forget(string contentId) => stored.TryRemove(contentId, out _);
}
