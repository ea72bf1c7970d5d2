using System.Text;
using PbV1 = RegionChat.Protos.V1;

namespace RegionChat.Server.Tests.Services;

/// <summary>SamplingParams.logprobs over gRPC: every generated token's log-probability on the deltas (Chat) and the
/// response (Caption), with the asked number of alternatives, and nothing else about the answer changes.</summary>
public class LogprobTests
{
    static readonly byte[] Scene = TestImages.Scene(411);

    [Fact]
    public async Task ChatDeltasAndCaptionsCarryEveryGeneratedTokensLogprob()
    {
        await using var host = await ServerHost.StartAsync();
        var request = Calls.Chat("describe this region", Scene, Calls.Box(0, 0, 24, 24), maxTokens: 10);
        var plain = await host.Client.ChatAsync(request);
        Assert.All(plain.Events.Where(e => e.Delta != null), e => Assert.Empty(e.Delta.Logprobs));

        request.Sampling = new PbV1.SamplingParams { Logprobs = 3 };
        var chat = await host.Client.ChatAsync(request);
        Assert.Equal(plain.Text, chat.Text);
        var tokens = chat.Events.Where(e => e.Delta != null).SelectMany(e => e.Delta.Logprobs).ToList();
        Assert.Equal((int)chat.Finished.Usage.CompletionTokens, tokens.Count);
        // The shown answer drops the template's leading separator; the tokens keep it.
        Assert.Equal(chat.Text, Encoding.UTF8.GetString(tokens.SelectMany(t => t.Bytes.ToByteArray()).ToArray()).TrimStart());
        Assert.All(tokens, t =>
        {
            Assert.Equal(3, t.Top.Count);
            Assert.Equal(t.TokenId, t.Top[0].TokenId);                  // greedy: the best token
            Assert.Equal(t.Logprob, t.Top[0].Logprob);
            Assert.True(t.Top[0].Logprob >= t.Top[1].Logprob && t.Top[1].Logprob >= t.Top[2].Logprob);
            Assert.True(t.Logprob <= 0 && float.IsFinite(t.Logprob));
            Assert.Equal(t.Token, t.Bytes.ToStringUtf8());
            Assert.All(t.Top, a => Assert.Empty(a.Top));
        });

        var caption = await host.Client.CaptionAsync(new PbV1.CaptionRequest
        {
            Image = new() { Data = Google.Protobuf.ByteString.CopyFrom(Scene) }, Region = Calls.Box(0, 0, 24, 24), MaxTokens = 10,
            Sampling = new() { Logprobs = 0 },
        }, deadline: Calls.Deadline());
        Assert.Equal((int)caption.Usage.CompletionTokens, caption.Logprobs.Count);
        Assert.All(caption.Logprobs, t => Assert.Empty(t.Top));
        Assert.Equal(caption.Text, Encoding.UTF8.GetString(caption.Logprobs.SelectMany(t => t.Bytes.ToByteArray()).ToArray()).TrimStart());
    }
}
