namespace RegionChat.CaptionBatch.Internal;

/// <summary>Counters of one server lane, updated from its sender and reader.</summary>
internal sealed class ServerStats(string address)
{
    public string Address { get; } = address;
    public int Captioned, Failed, Requeued, Uploads, Failures;
    public volatile bool Down;
    public volatile string? LastError;

    public CaptionBatchServerSummary ToSummary() => new(Address, Volatile.Read(ref Captioned), Volatile.Read(ref Failed),
        Volatile.Read(ref Requeued), Volatile.Read(ref Uploads), Volatile.Read(ref Failures), Down, LastError);
}
