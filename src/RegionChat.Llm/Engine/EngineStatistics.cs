namespace RegionChat.Llm.Engine;

/// <summary>A snapshot of the engine's scheduler.</summary>
/// <param name="Steps">Decode steps run so far.</param>
/// <param name="Evictions">Sessions evicted (LRU) to make room so far.</param>
/// <param name="QueuedRequests">Requests and session commands waiting to be admitted.</param>
/// <param name="SequencesHeld">Sessions holding a sequence id (running or kept for follow-ups).</param>
/// <param name="UsedCells">KV cells holding the sessions' own positions (the shared prefix's are SharedPrefixCells).</param>
/// <param name="ReservedCells">KV cells promised to running requests for their remaining prompt and output.</param>
/// <param name="TotalCells">KV cells of the context.</param>
/// <param name="SharedPrefixCells">KV cells of the prompt prefix that fresh sequences share (not in UsedCells).</param>
/// <param name="SharedPrefixHits">Prompts that took the shared prefix instead of prefilling it.</param>
public sealed record EngineStatistics(long Steps, long Evictions, int QueuedRequests, int SequencesHeld, int UsedCells,
    int ReservedCells, int TotalCells, int SharedPrefixCells = 0, long SharedPrefixHits = 0);
