namespace RegionChat.Inference.Internal;

/// <summary>
/// Shared images in a folder every replica mounts (a Kubernetes volume, NFS), for fleets whose images should not live
/// in Redis; the sessions stay in the wrapped store. One file per image, named by its content id, written to a temporary
/// name and renamed, so a reader never sees half an image. An image lives <see cref="SessionStoreOptions.ImageSeconds"/>
/// after it was last stored or used (its file time); when the folder holds more than <see cref="SessionStoreOptions.ImageBytes"/>
/// the oldest files go first. A trim lists the whole folder, so each replica trims once it has written a sixteenth of the
/// budget since its last trim, not on every put: the folder may run over by that much per replica meanwhile.
/// </summary>
internal sealed class FolderImageStore(ISessionRecordStore sessions, string folder, SessionStoreOptions options) : ISessionRecordStore
{
    const string Suffix = ".img";
    readonly TimeSpan lifetime = TimeSpan.FromSeconds(options.ImageSeconds);
    readonly Lock trimGate = new();
    long writtenSinceTrim = long.MaxValue / 2;   // the first put trims (what earlier runs left)

    public string Kind => sessions.Kind + "+folder";

    public async Task PutImageAsync(string imageId, ReadOnlyMemory<byte> bytes, CancellationToken ct)
    {
        string path = PathOf(imageId);
        try
        {
            if (File.Exists(path) && new FileInfo(path).Length == bytes.Length)
            {
                File.SetLastWriteTimeUtc(path, DateTime.UtcNow); // stored again: it lives on
                return;
            }
            string temp = path + "." + Guid.NewGuid().ToString("N")[..8] + ".tmp";
            await File.WriteAllBytesAsync(temp, bytes.ToArray(), ct).ConfigureAwait(false);
            File.Move(temp, path, overwrite: true);
        }
        catch (IOException e) { throw Unavailable("store", e); }
        catch (UnauthorizedAccessException e) { throw Unavailable("store", e); }
        if (Interlocked.Add(ref writtenSinceTrim, bytes.Length) >= Math.Max(1, options.ImageBytes / 16))
        {
            Interlocked.Exchange(ref writtenSinceTrim, 0);
            Trim();
        }
    }

    public Task<IReadOnlyList<string>> TouchImagesAsync(IReadOnlyCollection<string> imageIds, CancellationToken ct)
    {
        var missing = new List<string>();
        foreach (string id in imageIds)
        {
            string path = PathOf(id);
            try
            {
                var file = new FileInfo(path);
                if (file.Exists && DateTime.UtcNow - file.LastWriteTimeUtc <= lifetime) file.LastWriteTimeUtc = DateTime.UtcNow;
                else missing.Add(id);
            }
            catch (FileNotFoundException) { missing.Add(id); } // another replica trimmed it meanwhile
            catch (IOException e) { throw Unavailable("renew", e); }
            catch (UnauthorizedAccessException e) { throw Unavailable("renew", e); }
        }
        return Task.FromResult<IReadOnlyList<string>>(missing);
    }

    public async Task<byte[]?> GetImageAsync(string imageId, CancellationToken ct)
    {
        string path = PathOf(imageId);
        try
        {
            var file = new FileInfo(path);
            if (!file.Exists) return null;
            if (DateTime.UtcNow - file.LastWriteTimeUtc > lifetime)
            {
                file.Delete();
                return null;
            }
            return await File.ReadAllBytesAsync(path, ct).ConfigureAwait(false);
        }
        catch (FileNotFoundException) { return null; } // another replica trimmed it meanwhile
        catch (IOException e) { throw Unavailable("read", e); }
        catch (UnauthorizedAccessException e) { throw Unavailable("read", e); }
    }

    /// <summary>Drops expired images, then the oldest until the folder is within its byte budget.</summary>
    void Trim()
    {
        lock (trimGate)
        {
            var files = new List<(string Path, long Length, DateTime Time)>();
            foreach (var f in new DirectoryInfo(folder).EnumerateFiles("*" + Suffix))
            {
                try { files.Add((f.FullName, f.Length, f.LastWriteTimeUtc)); }
                catch (FileNotFoundException) { } // another replica deleted it meanwhile
            }
            long total = files.Sum(f => f.Length);
            var now = DateTime.UtcNow;
            foreach (var f in files.OrderBy(f => f.Time))
            {
                if (total <= options.ImageBytes && now - f.Time <= lifetime) break;
                try { File.Delete(f.Path); }
                catch (IOException) { } // in use: the next trim tries again
                total -= f.Length;
            }
        }
    }

    /// <summary>The file of an image id ("sha256:HEX"); the id is checked, so it never names a path elsewhere.</summary>
    string PathOf(string imageId) =>
        ImageStore.NormaliseId(imageId) is { } id
            ? Path.Combine(folder, id.Replace(':', '-') + Suffix)
            : throw new ArgumentException($"not an image content id: '{ClientText.Quote(imageId)}'", nameof(imageId));

    static SessionStoreUnavailableException Unavailable(string what, Exception e) =>
        new($"the shared image folder failed to {what} an image: {e.Message}", e);

    public Task<SessionRecord?> GetAsync(string sessionId, CancellationToken ct) => sessions.GetAsync(sessionId, ct);
    public Task<int> TurnCountAsync(string sessionId, CancellationToken ct) => sessions.TurnCountAsync(sessionId, ct);
    public Task<bool> SaveAsync(string sessionId, string model, string? systemPrompt, IReadOnlyList<TurnRecord> turns, int storedTurns,
        CancellationToken ct) => sessions.SaveAsync(sessionId, model, systemPrompt, turns, storedTurns, ct);
    public Task<bool> RemoveAsync(string sessionId, CancellationToken ct) => sessions.RemoveAsync(sessionId, ct);
    public Task<IAsyncDisposable?> TryLeaseAsync(string sessionId, CancellationToken ct) => sessions.TryLeaseAsync(sessionId, ct);
    public int SweepIdle() => sessions.SweepIdle();
    public void Dispose() => sessions.Dispose();
}
