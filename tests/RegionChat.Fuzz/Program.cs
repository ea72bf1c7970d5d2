using RegionChat.Fuzz;
using SharpFuzz;

// RegionChat.Fuzz TARGET               run under afl-fuzz (fuzz.sh): one input per execution, from stdin
// RegionChat.Fuzz TARGET FILE|DIR…     run the target once on each file: replays a crash, or checks a corpus (run this
//                                      from an uninstrumented build, `dotnet run --project tests/RegionChat.Fuzz -- …`:
//                                      instrumented code needs AFL's shared memory)
// RegionChat.Fuzz seeds DIR            write the starting corpus (corpus/ holds its committed output)
if (args.Length >= 2 && args[0] == "seeds") return FuzzSeeds.Write(args[1]);
if (args.Length < 1 || !FuzzTargets.Names.Contains(args[0]))
{
    Console.Error.WriteLine($"usage: RegionChat.Fuzz {string.Join("|", FuzzTargets.Names)} [FILE|DIR…] | seeds DIR");
    return 2;
}
if (args.Length == 1)
{
    Fuzzer.OutOfProcess.Run(stream =>
    {
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        FuzzTargets.Run(args[0], copy.ToArray());
    });
    return 0;
}
int n = 0;
foreach (var path in args.Skip(1).SelectMany(p => Directory.Exists(p) ? Directory.GetFiles(p).Order(StringComparer.Ordinal).ToArray() : new[] { p }))
{
    FuzzTargets.Run(args[0], File.ReadAllBytes(path));
    n++;
}
Console.WriteLine($"{args[0]}: {n} inputs, no crash");
return 0;
