using System.Net;
using System.Text.Json.Nodes;
using Grpc.Core;
using RegionChat.Server.Tests.OpenAi;
using RegionChat.TestSupport;
using PbV1 = RegionChat.Protos.V1;

namespace RegionChat.Server.Tests.Services;

/// <summary>A session never grows past the LLM's trained context (GGUF llama.context_length), whatever the serving
/// context: the turn that would is refused with what to do, over gRPC and OpenAI, and the models list says the limit.</summary>
public sealed class SessionContextTests : IAsyncLifetime
{
    const int Trained = 160;
    static readonly byte[] Scene = TestImages.Scene(31);
    readonly TempDir dir = new();
    ServerHost host = null!;

    public async Task InitializeAsync()
    {
        TinyModel.Write(Path.Combine(dir.Path, "short"), contextLength: Trained);
        host = await ServerHost.StartAsync(new Dictionary<string, string?>
        {
            ["RegionChat:ModelsPath"] = dir.Path, ["RegionChat:DefaultModel"] = "short", ["RegionChat:ContextSize"] = "1024",
        });
    }

    public async Task DisposeAsync()
    {
        await host.DisposeAsync();
        dir.Dispose();
    }

    [Fact]
    public async Task ModelsReportWhatASessionMayHold()
    {
        var model = (await host.Client.ListModelsAsync(new PbV1.ListModelsRequest())).Models.Single();
        Assert.Equal(1024u, model.ContextSize);
        Assert.Equal((uint)Trained, model.SessionContextSize);
        Assert.Equal((uint)Trained, model.Llm.TrainContextLength);

        using var http = OpenAiHttp.Http(host);
        var list = JsonNode.Parse(await http.GetStringAsync("/v1/models"))!["data"]![0]!;
        Assert.Equal(Trained, (int)list["max_model_len"]!);
        Assert.Equal(1024, (int)list["context_size"]!);
    }

    [Fact]
    public async Task ASessionThatReachesTheTrainedContextIsRefusedWithTheWayOut()
    {
        var first = await host.Client.ChatAsync(Calls.Chat("what is this?", Scene, Calls.Box(0, 0, 32, 32), maxTokens: 4));
        string session = first.Started.SessionId;
        RpcException? refused = null;
        uint held = 0;
        for (int turn = 0; turn < 40 && refused == null; turn++)
        {
            try
            {
                var next = await host.Client.ChatAsync(Calls.Chat("what color is it?", sessionId: session, maxTokens: 4));
                held = next.Finished.Usage.PromptTokens + next.Finished.Usage.CompletionTokens;
                // Prompt + answer; the answer's last token is not in the KV cache yet.
                Assert.True(held <= Trained + 1, $"the session holds {held} positions, past the trained {Trained}");
            }
            catch (RpcException e) { refused = e; }
        }
        Assert.NotNull(refused);
        Assert.Equal(StatusCode.FailedPrecondition, refused!.StatusCode);
        Assert.Contains($"{Trained} positions (the model's trained context, GGUF llama.context_length)", refused.Status.Detail);
        Assert.Contains("start a new one", refused.Status.Detail);
        Assert.Contains(session, refused.Status.Detail);
        Assert.InRange(held, Trained - 24u, Trained + 1u);

        // The same session over OpenAI: 400 in OpenAI's shape, naming the session.
        using var http = OpenAiHttp.Http(host);
        var body = OpenAiHttp.Body(4, OpenAiHttp.Message("user", "what shape is it?"));
        body["model"] = "short";
        body["session_id"] = session;
        var error = await OpenAiHttp.FailsAsync(http, body);
        Assert.Equal(HttpStatusCode.BadRequest, error.Status);
        Assert.Equal("context_length_exceeded", error.Code);
        Assert.Equal("session_id", error.Param);
        Assert.Contains("start a new one", error.Message);

        // A new session is answered.
        var fresh = await host.Client.ChatAsync(Calls.Chat("what is this?", Scene, Calls.Box(0, 0, 32, 32), maxTokens: 4));
        Assert.NotEqual(session, fresh.Started.SessionId);
    }

    [Fact]
    public async Task AReplayedSessionThatNoLongerFitsIsRefusedAsAFullSessionNotAsABadText()
    {
        // One sequence: another conversation evicts this one, so its next turn replays the history first.
        await using var one = await ServerHost.StartAsync(new Dictionary<string, string?>
        {
            ["RegionChat:ModelsPath"] = dir.Path, ["RegionChat:DefaultModel"] = "short", ["RegionChat:ContextSize"] = "1024",
            ["RegionChat:ParallelSequences"] = "1",
        });
        var first = await one.Client.ChatAsync(Calls.Chat("what is this?", Scene, Calls.Box(0, 0, 32, 32), maxTokens: 4));
        string session = first.Started.SessionId;
        uint held = first.Finished.Usage.PromptTokens + first.Finished.Usage.CompletionTokens;
        const string Long = "what shape and what color is it and where is it in the picture?";
        // A text-only first turn of the long text fits on its own; the history grows until it and the text cannot.
        var alone = await one.Client.ChatAsync(Calls.Chat(Long, maxTokens: 1));
        uint longPrompt = alone.Finished.Usage.PromptTokens;
        Assert.True(longPrompt < Trained - 8, $"the long text alone takes {longPrompt} positions");
        while (held + longPrompt < Trained + 4)
        {
            var next = await one.Client.ChatAsync(Calls.Chat("what color is it?", sessionId: session, maxTokens: 4));
            held = next.Finished.Usage.PromptTokens + next.Finished.Usage.CompletionTokens;
        }
        await one.Client.ChatAsync(Calls.Chat("something else", maxTokens: 2));   // evicts the session

        var e = await Calls.FailsAsync(() => one.Client.ChatAsync(Calls.Chat(Long, sessionId: session, maxTokens: 1)));
        Assert.Equal(StatusCode.FailedPrecondition, e.StatusCode);
        Assert.Contains("its history and the turn need", e.Status.Detail);
        Assert.Contains("start a new one", e.Status.Detail);
    }

    [Fact]
    public async Task ImagesWhoseVisualTokensAloneOutgrowASessionAreRefusedBeforeAnyIsEncoded()
    {
        int perImage = host.Model.VisualTokenCount;
        int images = Trained / perImage + 1;
        var messages = new JsonArray();
        for (int i = 0; i < images; i++)
        {
            messages.Add(OpenAiHttp.UserWithImage($"image {i}?", TestImages.Scene(200 + i)));
            if (i + 1 < images) messages.Add(OpenAiHttp.Message("assistant", "ok"));
        }
        var body = new JsonObject { ["model"] = "short", ["max_tokens"] = 1, ["messages"] = messages };
        long encodedBefore = host.Core.VisionBatcher.Items;
        using var http = OpenAiHttp.Http(host);
        var error = await OpenAiHttp.FailsAsync(http, body);
        Assert.Equal((HttpStatusCode.BadRequest, "messages"), (error.Status, error.Param));
        Assert.Contains($"{images} images take {images * perImage:N0} positions", error.Message);
        Assert.Equal(encodedBefore, host.Core.VisionBatcher.Items);
    }

    [Fact]
    public async Task MaxTokensThatDoNotFitAreRefusedUpFrontAndADefaultEndsAtTheLimit()
    {
        var e = await Calls.FailsAsync(() => host.Client.ChatAsync(Calls.Chat("what is this?", Scene, maxTokens: Trained)));
        Assert.Equal(StatusCode.InvalidArgument, e.StatusCode);
        Assert.Equal("max_tokens", Assert.Single(Calls.Violations(e)).Field);
        Assert.Contains("leaves room for", e.Status.Detail);
        // Over OpenAI the error names the field the limit came in.
        using var http = OpenAiHttp.Http(host);
        var body = OpenAiHttp.Body(4, OpenAiHttp.Message("user", "what is this?"));
        body["model"] = "short";
        body.Remove("max_tokens");
        body["max_completion_tokens"] = Trained;
        var error = await OpenAiHttp.FailsAsync(http, body);
        Assert.Equal((HttpStatusCode.BadRequest, "max_completion_tokens"), (error.Status, error.Param));

        // Without max_tokens the answer may run until the session is full, and then ends with LENGTH.
        var answer = await host.Client.ChatAsync(Calls.LongChat(maxTokens: 0));
        Assert.Equal(PbV1.FinishReason.Length, answer.Finished.Reason);
        Assert.Equal((uint)Trained + 1, answer.Finished.Usage.PromptTokens + answer.Finished.Usage.CompletionTokens);
    }
}
