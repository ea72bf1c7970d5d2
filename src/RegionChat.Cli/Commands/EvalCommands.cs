using System.CommandLine;
using System.Globalization;
using RegionChat.Data.Metrics;

namespace RegionChat.Cli.Commands;

/// <summary>`regionchat eval …`: evaluation verbs.</summary>
internal static class EvalCommands
{
    /// <summary>Printed instead of a METEOR number: we never print a stand-in under that name.</summary>
    public const string MeteorNotice = "METEOR: not implemented (needs WordNet and paraphrase tables)";

    public static Command Create()
    {
        var eval = new Command("eval", "Evaluate model outputs.");
        eval.Subcommands.Add(CreateCaptions());
        eval.Subcommands.Add(TrainClipCommands.CreateZeroShot());
        eval.Subcommands.Add(EvalShapesCommand.Create());
        return eval;
    }

    static Command CreateCaptions()
    {
        var predictions = new Option<FileInfo>("--predictions")
        {
            Description = "JSONL, one {\"id\", \"caption\"} per line.",
            Required = true,
        };
        var references = new Option<FileInfo>("--references")
        {
            Description = "JSONL, one {\"id\", \"references\": [..]} per line.",
            Required = true,
        };
        var json = new Option<bool>("--json")
        {
            Description = "Also print {\"bleu\": [b1,b2,b3,b4], \"rouge_l\": x, \"cider\": y} (fractions) as the last line.",
        };
        var pretokenized = new Option<bool>("--pretokenized")
        {
            Description = "Captions are already tokenised: split on spaces only (default: PTB-style tokenisation, "
                + "lower-cased, punctuation removed, as the COCO caption scorers do).",
        };

        var command = new Command("captions",
            "BLEU-1..4, ROUGE-L and CIDEr-D as the COCO caption scorers (pycocoevalcap) compute them. METEOR is not implemented.");
        command.Options.Add(predictions);
        command.Options.Add(references);
        command.Options.Add(json);
        command.Options.Add(pretokenized);
        command.SetAction(parseResult =>
        {
            var output = parseResult.InvocationConfiguration.Output;
            var error = parseResult.InvocationConfiguration.Error;
            try
            {
                var texts = CaptionFiles.Load(parseResult.GetValue(predictions)!.FullName, parseResult.GetValue(references)!.FullName);
                bool isPretokenized = parseResult.GetValue(pretokenized);
                Func<string, IReadOnlyList<string>> tokenize = isPretokenized
                    ? CaptionTokenizer.SplitPretokenized
                    : CaptionTokenizer.Tokenize;
                var items = new List<CaptionItem>(texts.Count);
                foreach (var t in texts)
                {
                    try { items.Add(t.Tokenize(tokenize)); }
                    catch (ArgumentException e) { throw new InvalidDataException($"id \"{t.Id}\": {e.Message}", e); }
                }
                var scores = CaptionScorer.Score(items);
                Print(output, scores, texts.Count, isPretokenized, parseResult.GetValue(json));
                return 0;
            }
            catch (Exception e) when (e is InvalidDataException or FileNotFoundException or ArgumentException or IOException)
            {
                error.WriteLine($"eval captions: {e.Message}");
                return 1;
            }
        });
        return command;
    }

    static void Print(TextWriter output, CaptionScores scores, int count, bool pretokenized, bool json)
    {
        var inv = CultureInfo.InvariantCulture;
        output.WriteLine($"items: {count}");
        output.WriteLine(pretokenized
            ? "tokenization: pretokenized (split on spaces)"
            : "tokenization: PTB-style (lower-cased, punctuation removed)");
        for (int k = 0; k < scores.Bleu.Count; k++)
            output.WriteLine(string.Format(inv, "BLEU-{0}: {1:F4}", k + 1, scores.Bleu[k]));
        output.WriteLine(string.Format(inv, "ROUGE-L: {0:F4}", scores.RougeL));
        output.WriteLine(string.Format(inv, "CIDEr-D: {0:F4}", scores.CiderD));
        output.WriteLine(MeteorNotice);
        if (json)
        {
            string R(double v) => v.ToString("R", inv);
            output.WriteLine($"{{\"bleu\": [{string.Join(", ", scores.Bleu.Select(R))}], \"rouge_l\": {R(scores.RougeL)}, \"cider\": {R(scores.CiderD)}}}");
        }
    }
}
