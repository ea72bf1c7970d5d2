using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using RegionChat.CaptionBatch;
using RegionChat.Data.Batch;

namespace RegionChat.Cli.Commands;

/// <summary>
/// `regionchat caption-batch --input FILE --output FILE [--server URL …] [--model DIR] …`: captions every item of a
/// JSONL or COCO input through servers or in-process (the job lives in <see cref="CaptionBatchJob"/>). A progress bar
/// goes to stderr, the summary to stdout. Exit 0 when every item has a caption, 1 when every item has a record but some
/// are error records (a rerun changes nothing), 2 for bad arguments or input or a job refused as given (API key, labels,
/// model, a max tokens or instruction the server refuses, an output of another model), 3 when items are left without a
/// record (set aside after transient failures, or the job stopped early: a rerun resumes), so a script retries on 3
/// alone, and 4 when a record could not be written (a full disk: a rerun resumes once it is fixed). `--shard I/N`
/// captions one shard of the input (for N jobs side by side), and `caption-batch merge --output ALL SHARD_OUTPUT…` joins
/// the shards' outputs. `--task classify --labels-file F [--top K]` classifies each region over the labels instead
/// (ClassifyStream on servers), `--task embed` writes each region's embedding (EmbedStream).
/// </summary>
internal static class CaptionBatchCommand
{
    public static Command Create()
    {
        var input = new Option<FileInfo>("--input") { Description = "JSONL ({\"id\",\"image\",\"region\",\"instruction\"?} per line) or COCO-style JSON " +
            "(images + annotations).", Required = true };
        var output = new Option<FileInfo>("--output") { Description = "Output JSONL: {\"id\",\"caption\",\"model\",\"timings\"} per item; ids already in it " +
            "are skipped (resume).", Required = true };
        var servers = new Option<string[]>("--server") { Description = "Server address; repeat for several (load-balanced, with failover). Default: " +
            $"$REGIONCHAT_SERVER or {ServerArguments.DefaultServer} unless --model is given." };
        var model = new Option<DirectoryInfo?>("--model") { Description = "Caption in-process with this model folder (no server)." };
        var concurrency = new Option<int>("--concurrency") { Description = "Items in flight per server (or in-process parallel sequences).",
            DefaultValueFactory = _ => 8 };
        var streams = new Option<int>("--streams") { Description = "CaptionStream calls per server, each with --concurrency items in flight; " +
            "give several when --server is a load balancer (deploy/nginx), which spreads them over its replicas.", DefaultValueFactory = _ => 1 };
        var instruction = new Option<string?>("--instruction") { Description = "Instruction for items that carry none; default: the model's caption prompt." };
        var retries = new Option<int>("--retries") { Description = "Retries of an item after a transient failure (server unavailable, transport " +
            "error, queue full); past them it is left without a record for the next run.", DefaultValueFactory = _ => 3 };
        var itemTimeout = new Option<double>("--item-timeout") { Description = "Seconds a server stream may leave its items in flight " +
            "without answering any (from its last answer or the item's sending) before it counts as failed and its items go to the " +
            "other servers; 0 = no limit. Raise it for long captions on a slow server.", DefaultValueFactory = _ => 600 };
        var serverWait = new Option<double>("--server-wait") { Description = "Seconds to wait, once every server is down, for one to come back " +
            "(a restarting server loads its model first) before the job stops with the rest left for a rerun; 0 = stop at once.",
            DefaultValueFactory = _ => 120 };
        var errors = new Option<FileInfo?>("--errors") { Description = "Write failures ({\"id\",\"error\"}) here instead of into --output." };
        var regionFrom = new Option<string>("--region-from") { Description = "COCO input: caption each annotation's segmentation (mask) or its bbox (box).",
            DefaultValueFactory = _ => "mask" };
        regionFrom.AcceptOnlyFromAmong("mask", "box");
        var imageRoot = new Option<DirectoryInfo?>("--image-root") { Description = "COCO input: folder the images' file_name are relative to (default: the " +
            "input file's folder)." };
        var apiKey = new Option<string?>("--api-key") { Description = "API key sent as \"authorization: Bearer KEY\". Default: $REGIONCHAT_API_KEY." };
        var maxTokens = new Option<int>("--max-tokens") { Description = "Most tokens per caption; 0 = the server's default (in-process: 256).",
            DefaultValueFactory = _ => 0 };
        var logprobs = new Option<bool>("--logprobs") { Description = "Add each caption's \"logprob\" (the sum of its tokens' log-probabilities " +
            "under the model: a confidence to rank or filter captions by) and \"tokens\" (their count)." };
        var json = new Option<bool>("--json") { Description = "Each caption is one JSON object (the model can write nothing else); its " +
            "record adds it parsed, as \"json\"." };
        var jsonSchema = new Option<FileInfo?>("--json-schema") { Description = "Each caption is the JSON this JSON Schema file allows (the " +
            "supported part of JSON Schema: README, Structured output); its record adds it parsed, as \"json\"." };
        var choices = new Option<FileInfo?>("--choices") { Description = "Each caption is exactly one of this file's lines ('#' comments; 1 to 256)." };
        var regex = new Option<string?>("--regex") { Description = "Each caption is text this regular expression matches whole (the supported " +
            "part: README, Structured output)." };
        var threads = new Option<int>("--threads") { Description = "With --model: CPU threads for llama.cpp and TorchSharp.",
            DefaultValueFactory = _ => Environment.ProcessorCount };
        var shard = new Option<string?>("--shard") { Description = "I/N: caption only shard I of N (0 <= I < N): the items whose id's FNV-1a " +
            "hash is I modulo N, the same set in every run. Give each shard its own --output; join them with 'caption-batch merge'." };

        var task = new Option<string>("--task") { Description = "caption (default); classify: zero-shot classification of each region over " +
            "--labels-file, written as {\"id\",\"labels\":[{\"label\",\"p\"}…],\"model\",\"timings\"}; embed: each region's vector in the " +
            "classifier's joint space, {\"id\",\"embedding\":[…],\"model\",\"timings\"}.", DefaultValueFactory = _ => "caption" };
        task.AcceptOnlyFromAmong("caption", "classify", "embed");
        var labelsFile = new Option<FileInfo?>("--labels-file") { Description = "--task classify: the labels, one per line ('#' comments)." };
        var top = new Option<int>("--top") { Description = "--task classify: labels written per item, best first (0 = all).", DefaultValueFactory = _ => 5 };

        var command = new Command("caption-batch", "Caption every region of a JSONL or COCO input through servers or in-process; resumable.");
        foreach (var o in new Option[] { input, output, servers, model, concurrency, streams, instruction, retries, itemTimeout, serverWait, errors, regionFrom,
            imageRoot, apiKey, maxTokens, logprobs, json, jsonSchema, choices, regex, threads, shard, task, labelsFile, top })
            command.Options.Add(o);
        command.Subcommands.Add(CreateMerge());
        command.SetAction(async (parse, ct) =>
        {
            var stdout = parse.InvocationConfiguration.Output;
            var stderr = parse.InvocationConfiguration.Error;
            var bar = new CaptionBatchProgressBar(stderr, interactive: ReferenceEquals(stderr, Console.Error) && !Console.IsErrorRedirected);
            try
            {
                var given = parse.GetValue(servers) ?? [];
                string? modelDir = parse.GetValue(model)?.FullName;
                if (given.Length == 0 && modelDir == null)
                    given = [Environment.GetEnvironmentVariable("REGIONCHAT_SERVER") is { Length: > 0 } s ? s : ServerArguments.DefaultServer];
                var kind = TaskKind(parse.GetValue(task));
                var file = parse.GetValue(labelsFile);
                if (file != null && !file.Exists) throw new ArgumentException($"--labels-file: file '{file.FullName}' not found");
                // Refused even when it holds no label (the options only see the labels it gave).
                if (file != null && kind != CaptionBatchTask.Classify) throw new ArgumentException("--labels-file is for --task classify");
                var options = new CaptionBatchOptions
                {
                    TaskKind = kind,
                    Labels = file != null ? Inference.LabelSets.ReadFile(file.FullName) : [],
                    Top = parse.GetValue(top),
                    InputPath = parse.GetValue(input)!.FullName,
                    OutputPath = parse.GetValue(output)!.FullName,
                    ErrorsPath = parse.GetValue(errors)?.FullName,
                    Servers = given,
                    ModelDir = modelDir,
                    Concurrency = parse.GetValue(concurrency),
                    Streams = parse.GetValue(streams),
                    Instruction = parse.GetValue(instruction),
                    Retries = parse.GetValue(retries),
                    ItemTimeout = Seconds(parse.GetValue(itemTimeout), "--item-timeout"),
                    ServerWait = Seconds(parse.GetValue(serverWait), "--server-wait"),
                    RegionFrom = parse.GetValue(regionFrom) == "box" ? CocoRegionSource.Box : CocoRegionSource.Mask,
                    ImageRoot = parse.GetValue(imageRoot)?.FullName,
                    ApiKey = parse.GetValue(apiKey) ?? Environment.GetEnvironmentVariable("REGIONCHAT_API_KEY"),
                    MaxTokens = parse.GetValue(maxTokens),
                    Logprobs = parse.GetValue(logprobs),
                    Json = parse.GetValue(json),
                    JsonSchema = parse.GetValue(jsonSchema) is { } schemaFile ? CliOptions.SmallFile(schemaFile, "--json-schema") : null,
                    Choices = parse.GetValue(choices) is { } choicesFile
                        ? CliOptions.SmallFile(choicesFile, "--choices").Split('\n').Select(l => l.Trim())
                            .Where(l => l.Length > 0 && !l.StartsWith('#')).ToArray()
                        : [],
                    Regex = parse.GetValue(regex),
                    Threads = parse.GetValue(threads),
                    Shard = parse.GetValue(shard) is { } text ? CaptionBatchShard.Parse(text) : CaptionBatchShard.All,
                    // The bar's clock: it draws when due even while no item finishes.
                    ProgressInterval = CaptionBatchProgressBar.Tick,
                };
                var summary = await CaptionBatchJob.RunAsync(options, bar.Report, bar.Log, ct).ConfigureAwait(false);
                bar.Finish();
                PrintSummary(stdout, summary, "done", kind);
                return !summary.Complete ? Incomplete : summary.AnyFailed ? 1 : 0;
            }
            catch (CaptionBatchAbortedException e)
            {
                bar.Finish();
                stderr.WriteLine($"error: {e.Message}");
                PrintSummary(stdout, e.Summary, "stopped", TaskKind(parse.GetValue(task)));
                return e.Refused ? 2 : e.OutputFailed ? OutputFailed : Incomplete;
            }
            // Refused as given (a rerun stops the same way): bad options or input, an output it may not write.
            catch (Exception e) when (e is ArgumentException or InvalidDataException or FileNotFoundException or UnauthorizedAccessException)
            {
                bar.Finish();
                stderr.WriteLine($"error: {e.Message}");
                return 2;
            }
            catch (IOException e)
            {
                bar.Finish();
                stderr.WriteLine($"error: {e.Message}");
                return Incomplete;
            }
        });
        return command;
    }

    /// <summary>The exit code of a job that left items without a record (stopped, aborted, items set aside).</summary>
    const int Incomplete = 3;

    /// <summary>The exit code of a job stopped because a record could not be written (disk full, file too large): a rerun
    /// resumes once that is fixed, so it is not <see cref="Incomplete"/>, which scripts rerun at once.</summary>
    const int OutputFailed = 4;

    /// <summary>`caption-batch merge --output ALL SHARD_OUTPUT… [--input FILE]`: joins shard outputs, every id once.
    /// Exit 0 when merged (and, with --input, every input id has a record), 1 when records of an id disagree (nothing
    /// written) or input ids have no record, 2 for bad arguments or a missing or malformed file.</summary>
    static Command CreateMerge()
    {
        var output = new Option<FileInfo>("--output") { Description = "The merged JSONL (replaced if it exists).", Required = true };
        var sources = new Argument<FileInfo[]>("SHARD_OUTPUT") { Description = "Outputs (or --errors files) of the shards, merged in this order.",
            Arity = ArgumentArity.OneOrMore };
        var input = new Option<FileInfo?>("--input") { Description = "The job's input: report the ids that have no record (exit 1 if any)." };
        var regionFrom = new Option<string>("--region-from") { Description = "COCO input: as the job was given it (ids do not depend on it).",
            DefaultValueFactory = _ => "mask" };
        regionFrom.AcceptOnlyFromAmong("mask", "box");
        var imageRoot = new Option<DirectoryInfo?>("--image-root") { Description = "COCO input: as the job was given it." };
        var command = new Command("merge", "Join the outputs of 'caption-batch --shard I/N' jobs into one file with every id once; records of an " +
            "id that disagree are refused.");
        command.Arguments.Add(sources);
        foreach (var o in new Option[] { output, input, regionFrom, imageRoot })
            command.Options.Add(o);
        command.SetAction(parse =>
        {
            var stdout = parse.InvocationConfiguration.Output;
            var stderr = parse.InvocationConfiguration.Error;
            try
            {
                var result = CaptionBatchMerge.Merge(parse.GetValue(output)!.FullName, parse.GetValue(sources)!.Select(f => f.FullName).ToArray(),
                    parse.GetValue(input)?.FullName, parse.GetValue(regionFrom) == "box" ? CocoRegionSource.Box : CocoRegionSource.Mask,
                    parse.GetValue(imageRoot)?.FullName);
                foreach (var source in result.Sources.Where(x => x.TornBytes > 0))
                    stderr.WriteLine($"warning: {source.Path} ends in a torn line ({source.TornBytes} bytes) that was left out: that shard was stopped " +
                        "mid-write; rerun it to caption that item");
                stdout.WriteLine($"merged {result.Records} ids ({result.Captions} captions, {result.Errors} errors) from {result.Sources.Count} " +
                    $"files into {result.OutputPath}; {result.DuplicatesDropped} agreeing duplicate records left out");
                foreach (var source in result.Sources)
                    stdout.WriteLine($"  {source.Path}: {source.Records} records, {source.Kept} kept");
                if (result.InputItems is { } total)
                {
                    stdout.WriteLine($"  input: {total - result.MissingIds.Count} of {total} ids have a record, {result.MissingIds.Count} missing" +
                        (result.ExtraIds > 0 ? $", {result.ExtraIds} merged ids are not in the input" : ""));
                    if (result.MissingIds.Count > 0)
                    {
                        stderr.WriteLine($"error: {result.MissingIds.Count} ids of the input have no record, e.g. " +
                            string.Join(", ", result.MissingIds.Take(5).Select(id => JsonSerializer.Serialize(id))) + "; rerun their shards");
                        return 1;
                    }
                }
                return 0;
            }
            catch (CaptionBatchMergeConflictException e)
            {
                stderr.WriteLine($"error: {e.Message}");
                return 1;
            }
            catch (Exception e) when (e is ArgumentException or InvalidDataException or FileNotFoundException or IOException)
            {
                stderr.WriteLine($"error: {e.Message}");
                return 2;
            }
        });
        return command;
    }

    static TimeSpan Seconds(double seconds, string option) => double.IsFinite(seconds) && seconds is >= 0 and <= 86400
        ? TimeSpan.FromSeconds(seconds)
        : throw new ArgumentException($"{option} must be in [0, 86400] seconds (0 = no limit), got {seconds}");

    static CaptionBatchTask TaskKind(string? task) => task switch
    {
        "classify" => CaptionBatchTask.Classify,
        "embed" => CaptionBatchTask.Embed,
        _ => CaptionBatchTask.Caption,
    };

    static void PrintSummary(TextWriter output, CaptionBatchSummary s, string verb, CaptionBatchTask task)
    {
        string done = task switch { CaptionBatchTask.Classify => "classified", CaptionBatchTask.Embed => "embedded", _ => "captioned" };
        var c = CultureInfo.InvariantCulture;
        var p = s.Progress;
        output.WriteLine(string.Create(c,
            $"{verb}: {(s.Shard.IsSplit ? $"shard {s.Shard}: " : "")}{p.Captioned} {done}, {p.Failed} failed, " +
            $"{p.Skipped} already done, {p.Remaining} left of {p.Total} items " +
            $"in {p.Elapsed.TotalSeconds:F1} s ({p.ItemsPerSecond:F2} items/s){(s.Models.Count > 0 ? $"; model {string.Join(", ", s.Models)}" : "")}"));
        foreach (var server in s.Servers)
            output.WriteLine(string.Create(c,
                $"  server {server.Address}: {server.Captioned} {done}, {server.Failed} rejected, {server.Requeued} handed back, " +
                $"{server.Uploads} images uploaded, {server.Failures} failures{(server.Down ? $", DOWN ({server.LastError})" : "")}"));
        if (p.SetAside > 0)
            output.WriteLine($"  {p.SetAside} items met only transient failures (server overloaded or away) until their retries ran out: " +
                "they have no record; rerun the same command to do them");
        if (s.PriorErrors > 0) output.WriteLine($"  {s.PriorErrors} error records from earlier runs are on file (their ids were skipped)");
        output.WriteLine($"  output {s.OutputPath}{(s.ErrorsPath != null ? $", errors {s.ErrorsPath}" : "")}");
    }
}
