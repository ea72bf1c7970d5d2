using RegionChat.Server.TestHost;
using RegionChat.TestSupport;

namespace RegionChat.CaptionBatch.Tests;

/// <summary>A server's INVALID_ARGUMENT about the job's own options (--max-tokens, --instruction) stops the job before
/// any error record, as bad labels do for classify; one about an item's own fields stays that item's error record.</summary>
public sealed class CaptionBatchRefusalTests : IDisposable
{
    readonly TempDir temp = new();

    public void Dispose() => temp.Dispose();

    CaptionBatchOptions Options(BatchDataset data, string name, string server) => new()
    {
        InputPath = data.InputPath,
        OutputPath = temp.File(name + ".jsonl"),
        ErrorsPath = temp.File(name + "-errors.jsonl"),
        Servers = [server],
        Concurrency = 4,
        MaxTokens = 4,
    };

    [Fact]
    public async Task AJobOptionTheServerRefusesStopsTheJobWithoutErrorRecordsWhileAnItemsOwnInstructionStaysItsError()
    {
        // 16 bytes: the dataset's item "instruction" carries its own of 17 ("what color is it?").
        await using var server = await ServerHost.StartAsync(("MaxPromptBytes", "16"));
        var data = BatchDataset.Write(temp.File("data"), withBadItems: false);
        string address = server.Address.ToString();

        // Over the server's MaxTokensLimit (4096), which the client cannot know.
        var tokens = Options(data, "tokens", address) with { MaxTokens = 5000 };
        var e = await Assert.ThrowsAsync<CaptionBatchAbortedException>(() => CaptionBatchJob.RunAsync(tokens));
        Assert.StartsWith("--max-tokens: ", e.Message);
        Assert.Contains("INVALID_ARGUMENT: request.max_tokens: must be at most 4096", e.Message);
        Assert.True(e.Refused, "a rerun of the same command stops the same way");
        Assert.Empty(BatchDataset.ReadRecords(tokens.ErrorsPath!));
        Assert.Equal(0, e.Summary.Progress.Failed);

        var instruction = Options(data, "instruction", address) with { Instruction = "describe the region in a few words" };
        e = await Assert.ThrowsAsync<CaptionBatchAbortedException>(() => CaptionBatchJob.RunAsync(instruction));
        Assert.StartsWith("--instruction: ", e.Message);
        Assert.Contains("request.instruction: is 34 bytes; the limit is 16", e.Message);
        Assert.True(e.Refused);
        Assert.Empty(BatchDataset.ReadRecords(instruction.ErrorsPath!));

        // Without --instruction only the item with its own long instruction is refused: its error record, the rest captioned.
        var own = Options(data, "own", address);
        var summary = await CaptionBatchJob.RunAsync(own);
        var error = Assert.Single(BatchDataset.ReadRecords(own.ErrorsPath!));
        Assert.Equal("instruction", (string?)error["id"]);
        Assert.StartsWith("INVALID_ARGUMENT: request.instruction: is 17 bytes", (string?)error["error"]);
        Assert.Equal((data.GoodIds.Count - 1, 1), (summary.Progress.Captioned, summary.Progress.Failed));
    }
}
