using System.Collections.Concurrent;
using PbV1 = RegionChat.Protos.V1;

namespace RegionChat.Client.Internal;

/// <summary>
/// The images one client has stored on its server, by content id, so each is uploaded once however many requests use
/// it. Concurrent stores of the same image share one upload; a failed upload is forgotten, so the next store tries again.
/// </summary>
internal sealed class ImageUploads
{
    readonly ConcurrentDictionary<string, Lazy<Task<PbV1.ImageRef>>> stored = new(StringComparer.Ordinal);

    public async Task<PbV1.ImageRef> GetOrUploadAsync(string contentId, Func<Task<PbV1.ImageRef>> upload)
    {
        var entry = stored.GetOrAdd(contentId, _ => new Lazy<Task<PbV1.ImageRef>>(upload));
        try
        {
            return await entry.Value.ConfigureAwait(false);
        }
        catch
        {
            stored.TryRemove(KeyValuePair.Create(contentId, entry));
            throw;
        }
    }

    public bool Contains(string contentId) =>
        stored.TryGetValue(contentId, out var entry) && entry.IsValueCreated && entry.Value.IsCompletedSuccessfully;

    public void Forget(string contentId) => stored.TryRemove(contentId, out _);
}
