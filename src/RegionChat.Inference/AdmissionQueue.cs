namespace RegionChat.Inference;

/// <summary>
/// Bounds the requests in the core (running + waiting). A request that finds it full is refused at once
/// (<see cref="RegionChatErrorKind.ResourceExhausted"/>) rather than queued without limit, as llama.cpp server and
/// vLLM answer 429/503.
/// </summary>
public sealed class AdmissionQueue(int capacity)
{
    int inFlight;

    public int InFlight => Volatile.Read(ref inFlight);
    public int Capacity => capacity;

    /// <summary>Returns a ticket to dispose when the request ends, or null when the queue is full.</summary>
    public IDisposable? TryEnter()
    {
        while (true)
        {
            int n = Volatile.Read(ref inFlight);
            if (n >= capacity) return null;
            if (Interlocked.CompareExchange(ref inFlight, n + 1, n) == n) return new Ticket(this);
        }
    }

    sealed class Ticket(AdmissionQueue queue) : IDisposable
    {
        int disposed;
        public void Dispose()
        {
            if (Interlocked.Exchange(ref disposed, 1) == 0) Interlocked.Decrement(ref queue.inFlight);
        }
    }
}
