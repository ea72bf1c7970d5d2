using System.Diagnostics;
using System.Text.Json.Nodes;
using RegionChat.Data.Batch;

// Child process for the crash tests of ResumableJsonlWriter (and a tiny fsync benchmark).
//   write <path> <count> <maxPayloadBytes> <fsyncEvery> [<pauseAfter>] : append item-00000 .. item-<count-1>, skipping
//       ids already present, printing "appended <id>" after each append; with pauseAfter, stop appending after that
//       many appends and wait to be killed (so a parent that kills it at a chosen point never finds it finished)
//   bench <path> <count> <fsyncEvery> <payloadBytes> : time <count> appends to a fresh file
return args switch
{
    ["write", var path, var count, var maxPayload, var fsyncEvery] => Write(path, int.Parse(count), int.Parse(maxPayload), int.Parse(fsyncEvery), int.MaxValue),
    ["write", var path, var count, var maxPayload, var fsyncEvery, var pauseAfter] => Write(path, int.Parse(count), int.Parse(maxPayload), int.Parse(fsyncEvery), int.Parse(pauseAfter)),
    ["bench", var path, var count, var fsyncEvery, var payload] => Bench(path, int.Parse(count), int.Parse(fsyncEvery), int.Parse(payload)),
    _ => Usage(),
};

static int Write(string path, int count, int maxPayload, int fsyncEvery, int pauseAfter)
{
    int appended = 0;
    using var writer = ResumableJsonlWriter.Open(path, fsyncEvery);
    Console.WriteLine($"opened: {writer.Count} present, repaired {writer.RepairedBytes} bytes");
    for (int i = 0; i < count; i++)
    {
        string id = $"item-{i:D5}";
        if (writer.Contains(id)) continue;
        if (appended++ == pauseAfter)
        {
            Console.WriteLine("paused");
            Thread.Sleep(Timeout.Infinite);
        }
        // Payload size varies per id (deterministically), so lines straddle page and write boundaries differently.
        int size = 1 + (int)((uint)(i * 2654435761u) % (uint)maxPayload);
        writer.Append(new JsonObject { ["id"] = id, ["n"] = i, ["payload"] = new string((char)('a' + i % 26), size) });
        Console.WriteLine("appended " + id);
    }
    Console.WriteLine("done");
    return 0;
}

static int Bench(string path, int count, int fsyncEvery, int payload)
{
    File.Delete(path);
    string text = new('x', payload);
    var sw = Stopwatch.StartNew();
    using (var writer = ResumableJsonlWriter.Open(path, fsyncEvery))
        for (int i = 0; i < count; i++)
            writer.Append(new JsonObject { ["id"] = $"b{i}", ["caption"] = text });
    sw.Stop();
    Console.WriteLine($"fsyncEvery={fsyncEvery} payload={payload}B: {count} appends in {sw.Elapsed.TotalMilliseconds:F0} ms = {sw.Elapsed.TotalMilliseconds * 1000 / count:F1} us/append");
    return 0;
}

static int Usage()
{
    Console.Error.WriteLine("usage: write <path> <count> <maxPayloadBytes> <fsyncEvery> | bench <path> <count> <fsyncEvery> <payloadBytes>");
    return 2;
}
