using System.Runtime.CompilerServices;
using Microsoft.Extensions.AI;
using PbV1 = RegionChat.Protos.V1;

namespace RegionChat.Client.Tests;

/// <summary>The README's "Using from .NET" sample is this file's code between the README markers: it compiles here, runs
/// against the test server, and the README must hold it verbatim.</summary>
[Collection(ServerCollection.Name)]
public class ReadmeSampleTests(ServerFixture server)
{
    [Fact]
    public async Task TheReadmeSampleRunsAndStreamsTheRegionAnswer()
    {
        string address = server.Host.Address.ToString();
        string? apiKey = ServerFixture.ApiKey;
        byte[] png = Scenes.Png(1_000_000_303);
        var console = Console.Out;
        var output = new StringWriter();
        Console.SetOut(output);
        try
        {
            // README begin
            using IChatClient chat = new RegionChatChatClient(address, apiKey);

            ChatMessage question = new(ChatRole.User,
            [
                new DataContent(png, "image/png"),
                new RegionContent(ImageRegion.Box(10, 10, 40, 40)), // or NormalizedBox, Polygon, Scribble, Mask, Rle, Union
                new TextContent("describe this region"),
            ]);
            ChatOptions options = new() { Temperature = 0, MaxOutputTokens = 64 };
            await foreach (ChatResponseUpdate update in chat.GetStreamingResponseAsync([question], options))
            {
                Console.Write(update.Text);
                options.ConversationId = update.ConversationId; // the server's session id
            }
            Console.WriteLine();

            // A follow-up: only the new message goes out; the server holds the history in its KV cache.
            ChatResponse followUp = await chat.GetResponseAsync([new(ChatRole.User, "what colour is it?")], options);
            Console.WriteLine($"{followUp.Text} ({followUp.Usage?.CachedInputTokenCount} cached tokens)");
            // README end
        }
        finally { Console.SetOut(console); }

        var first = await server.RawChatAsync(new PbV1.ChatRequest
        {
            Message = new PbV1.UserMessage
            {
                Text = "describe this region",
                Image = new PbV1.ImageInput { Data = Google.Protobuf.ByteString.CopyFrom(png) },
                Region = new PbV1.Region { Box = new PbV1.Box { X0 = 10, Y0 = 10, X1 = 40, Y1 = 40 } },
            },
            Sampling = new PbV1.SamplingParams { Temperature = 0 },
            MaxTokens = 64,
        });
        var second = await server.RawChatAsync(new PbV1.ChatRequest
        {
            SessionId = first.Started.SessionId,
            Message = new PbV1.UserMessage { Text = "what colour is it?" },
            Sampling = new PbV1.SamplingParams { Temperature = 0 },
            MaxTokens = 64,
        });
        // The random test model's answers may hold newlines themselves, so the output is compared whole.
        string nl = Environment.NewLine;
        Assert.Equal($"{first.Text}{nl}{second.Text} ({second.Finished.Usage.CachedTokens} cached tokens){nl}", output.ToString());
        Assert.True(second.Finished.Usage.CachedTokens > 0);
    }

    [Fact]
    public void TheReadmeHoldsTheSampleVerbatim()
    {
        string readme = File.ReadAllText(Path.Combine(RepoRoot(), "README.md"));
        Assert.Contains("## Using from .NET", readme);
        Assert.Contains(Sample(), readme.Replace("\r\n", "\n"));
    }

    /// <summary>The lines between the markers, less their common indentation.</summary>
    static string Sample([CallerFilePath] string path = "")
    {
        var lines = File.ReadAllLines(path);
        int begin = Array.FindIndex(lines, l => l.Trim() == "// README begin"), end = Array.FindIndex(lines, l => l.Trim() == "// README end");
        Assert.True(begin >= 0 && end > begin, "README markers not found");
        var body = lines[(begin + 1)..end];
        int indent = body.Where(l => l.Trim().Length > 0).Min(l => l.Length - l.TrimStart().Length);
        return string.Join("\n", body.Select(l => l.Length >= indent ? l[indent..] : l.TrimStart()));
    }

    static string RepoRoot([CallerFilePath] string path = "") => Path.GetFullPath(Path.Combine(Path.GetDirectoryName(path)!, "..", ".."));
}
