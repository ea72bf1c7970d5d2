using Grpc.Core;
using Grpc.Health.V1;
using Grpc.Reflection.V1;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using RegionChat.Inference;
using RegionChat.Server.Internal;
using RegionChat.TestSupport;
using PbV1 = RegionChat.Protos.V1;

namespace RegionChat.Server.Tests.Services;

/// <summary>ListModels, health, reflection and API keys.</summary>
public class ServiceInfoTests
{
    [Fact]
    public async Task ListModelsDescribesTheTinyModel()
    {
        await using var host = await ServerHost.StartAsync(("ContextSize", "1024"));
        var response = await host.Client.ListModelsAsync(new PbV1.ListModelsRequest(), deadline: Calls.Deadline());
        Assert.Equal("tiny", response.DefaultModel);
        var m = Assert.Single(response.Models);
        Assert.Equal("tiny", m.Id);
        Assert.Equal("llava_v1", m.Template);
        Assert.Equal(1024u, m.ContextSize); // the serving context, not the trained one
        Assert.Equal((uint)TestSupport.TinyModel.Resolution, m.Vision.ImageSize);
        Assert.Equal((uint)TestSupport.TinyModel.Patch, m.Vision.PatchSize);
        Assert.Equal((uint)TestSupport.TinyModel.VisionWidth, m.Vision.Width);
        Assert.Equal(2u, m.Vision.Layers);
        Assert.Equal(-2, m.Vision.FeatureLayer);
        Assert.Equal("pad", m.Vision.Preprocess);
        Assert.Equal(16u, m.Projector.VisualTokens); // (64 / 16)² patches
        Assert.Equal((uint)TestSupport.TinyModel.VisionWidth, m.Projector.InputWidth);
        Assert.Equal(64u, m.Projector.OutputWidth);
        Assert.Equal("llama", m.Llm.Architecture);
        Assert.Equal(64u, m.Llm.EmbeddingLength);
        Assert.Equal(2u, m.Llm.Layers);
        Assert.Equal(4096u, m.Llm.TrainContextLength);       // TinyModel's GGUF
        Assert.Equal(1024u, m.SessionContextSize);           // the served context, smaller than the trained one
        Assert.Equal((uint)host.Model.Llm.Facts.VocabSize, m.Llm.VocabSize);
    }

    [Fact]
    public async Task HealthIsServingAndReflectionListsTheService()
    {
        await using var host = await ServerHost.StartAsync();
        var health = new Health.HealthClient(host.Channel);
        var status = await health.CheckAsync(new HealthCheckRequest(), deadline: Calls.Deadline());
        Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, status.Status);

        var services = await ListServicesAsync(host.Channel.CreateCallInvoker(), null);
        Assert.Contains("regionchat.v1.RegionChat", services);
        Assert.Contains("grpc.health.v1.Health", services);
    }

    /// <summary>A models folder with "tiny" and "broken": a good vision tower and projector but an LLM file that is not a
    /// GGUF.</summary>
    static string TinyAndBroken(TempDir temp)
    {
        string models = temp.File("models");
        foreach (var id in new[] { "tiny", "broken" })
        {
            Directory.CreateDirectory(Path.Combine(models, id));
            foreach (var file in Directory.GetFiles(ServerHost.TinyModelFolder))
                File.Copy(file, Path.Combine(models, id, Path.GetFileName(file)));
        }
        File.WriteAllText(Path.Combine(models, "broken", "llm.gguf"), "this is not a GGUF file");
        return models;
    }

    [Fact]
    public async Task ListingLoadsNoModelAndNamesOneThatFailedWhileItsRequestsAreUnavailable()
    {
        using var temp = new TempDir();
        await using var host = await ServerHost.StartAsync(("ModelsPath", TinyAndBroken(temp)));
        var checks = host.Services.GetRequiredService<HealthCheckService>();
        using var http = OpenAi.OpenAiHttp.Http(host);

        var listed = await host.Client.ListModelsAsync(new PbV1.ListModelsRequest(), deadline: Calls.Deadline());
        Assert.Equal(["loaded", "not_loaded"], listed.Models.OrderBy(m => m.Id == "broken").Select(m => m.State));
        var notLoaded = listed.Models.Single(m => m.Id == "broken");
        Assert.Equal(0u, notLoaded.ContextSize);
        Assert.Equal("pad", notLoaded.Vision.Preprocess);
        var v1 = System.Text.Json.Nodes.JsonNode.Parse(await http.GetStringAsync("/v1/models"))!["data"]!.AsArray();
        Assert.Equal("not_loaded", (string?)v1.Single(m => (string?)m!["id"] == "broken")!["state"]);
        Assert.Null(v1.Single(m => (string?)m!["id"] == "broken")!["context_size"]);
        Assert.Equal("not loaded", (await checks.CheckHealthAsync()).Entries["model"].Data["broken"]); // listing loaded nothing

        // Its first request loads it and fails: the model is unavailable (not an internal error), on both APIs.
        var request = Calls.Chat("hi", TestImages.Scene(3));
        request.Model = "broken";
        var e = await Calls.FailsAsync(() => Calls.DrainAsync(host.Client.Chat(request, deadline: Calls.Deadline())));
        Assert.Equal(StatusCode.FailedPrecondition, e.StatusCode);
        Assert.Contains("broken: cannot be loaded: ", e.Status.Detail);
        using var post = await http.PostAsync("/v1/chat/completions", new StringContent(
            """{"model": "broken", "messages": [{"role": "user", "content": "hi"}]}""", System.Text.Encoding.UTF8, "application/json"));
        Assert.Equal(500, (int)post.StatusCode);
        Assert.Equal("model_unavailable", (string?)System.Text.Json.Nodes.JsonNode.Parse(await post.Content.ReadAsStringAsync())!["error"]!["code"]);

        listed = await host.Client.ListModelsAsync(new PbV1.ListModelsRequest(), deadline: Calls.Deadline());
        var failed = listed.Models.Single(m => m.Id == "broken");
        Assert.Equal("failed", failed.State);
        Assert.Contains("llm.gguf", failed.LoadError);
        Assert.Equal("loaded", listed.Models.Single(m => m.Id == "tiny").State);
        Assert.Equal(16u, listed.Models.Single(m => m.Id == "tiny").Projector.VisualTokens);
        var one = System.Text.Json.Nodes.JsonNode.Parse(await http.GetStringAsync("/v1/models/tiny"))!;
        Assert.Equal("loaded", (string?)one["state"]);
        Assert.Equal(16, (int)one["visual_tokens"]!);
    }

    [Fact]
    public async Task PastMaxLoadedModelsAnotherModelIsRefusedWithoutLoadingIt()
    {
        using var temp = new TempDir();
        string models = TinyAndBroken(temp);
        File.Copy(Path.Combine(ServerHost.TinyModelFolder, "llm.gguf"), Path.Combine(models, "broken", "llm.gguf"), overwrite: true); // now good
        await using var host = await ServerHost.StartAsync(("ModelsPath", models), ("MaxLoadedModels", "1"));
        var request = Calls.Chat("hi", TestImages.Scene(3));
        request.Model = "broken";

        var e = await Calls.FailsAsync(() => Calls.DrainAsync(host.Client.Chat(request, deadline: Calls.Deadline())));
        Assert.Equal(StatusCode.FailedPrecondition, e.StatusCode);
        Assert.Contains("RegionChat:MaxLoadedModels = 1): ask for 'tiny'", e.Status.Detail);
        var listed = await host.Client.ListModelsAsync(new PbV1.ListModelsRequest(), deadline: Calls.Deadline());
        Assert.Equal("not_loaded", listed.Models.Single(m => m.Id == "broken").State); // refused, not failed: no load was tried
        Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving,
            (await new Health.HealthClient(host.Channel).CheckAsync(new HealthCheckRequest { Service = "regionchat.v1.RegionChat" })).Status);
        Assert.Equal(16u, (await host.Client.ChatAsync(Calls.Chat("hi", TestImages.Scene(3)))).Started.VisualTokens); // the default answers
    }

    [Fact]
    public async Task AnotherModelThatFailedToLoadDegradesHealthButTheServerStaysServing()
    {
        using var temp = new TempDir();
        await using var host = await ServerHost.StartAsync(("ModelsPath", TinyAndBroken(temp)));
        var health = new Health.HealthClient(host.Channel);
        var checks = host.Services.GetRequiredService<HealthCheckService>();

        // The default model loaded at start; "broken" loads on first use, so nothing has failed yet.
        Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, (await health.CheckAsync(new HealthCheckRequest(), deadline: Calls.Deadline())).Status);
        var report = await checks.CheckHealthAsync();
        Assert.Equal(HealthStatus.Healthy, report.Status);
        Assert.Equal("loaded", report.Entries["model"].Data["tiny"]);
        Assert.Equal("not loaded", report.Entries["model"].Data["broken"]);

        var request = Calls.Chat("hi", TestImages.Scene(3));
        request.Model = "broken";
        await Calls.FailsAsync(() => Calls.DrainAsync(host.Client.Chat(request, deadline: Calls.Deadline())));

        // The default model still answers, and every replica with these files fails alike: readiness stays SERVING (taking
        // the fleet out of service would stop it), and liveness (""), which checks only the process, too.
        foreach (var service in new[] { "", "regionchat.v1.RegionChat" })
        {
            var status = await health.CheckAsync(new HealthCheckRequest { Service = service }, deadline: Calls.Deadline());
            Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, status.Status);
        }
        report = await checks.CheckHealthAsync();
        Assert.Equal(HealthStatus.Degraded, report.Status);
        var model = report.Entries["model"];
        Assert.StartsWith("serving tiny; model 'broken' failed to load: ", model.Description);
        Assert.Contains("llm.gguf", model.Description);
        Assert.StartsWith("failed: ", (string)model.Data["broken"]);
        Assert.Equal("loaded", model.Data["tiny"]);
        // The default model goes on answering.
        Assert.Equal(16u, (await host.Client.ChatAsync(Calls.Chat("hi", TestImages.Scene(3)))).Started.VisualTokens);
    }

    [Fact]
    public async Task TheDefaultModelIsUnhealthyUntilItIsLoaded()
    {
        using var core = new RegionChatCore(new RegionChatCoreOptions
        {
            ModelsPath = Path.GetDirectoryName(ServerHost.TinyModelFolder)!, DefaultModel = "tiny", Threads = 1, ContextSize = 1024,
        });
        var check = new ModelHealthCheck(core);

        var before = await check.CheckHealthAsync(new HealthCheckContext());
        Assert.Equal(HealthStatus.Unhealthy, before.Status);
        Assert.Equal("the default model 'tiny' is not loaded yet", before.Description);

        core.LoadDefaultModel();
        var after = await check.CheckHealthAsync(new HealthCheckContext());
        Assert.Equal(HealthStatus.Healthy, after.Status);
        Assert.Equal("serving tiny", after.Description);
    }

    [Fact]
    public async Task ApiKeysGuardEveryServiceButHealth()
    {
        await using var host = await ServerHost.StartAsync(new Dictionary<string, string?> { ["RegionChat:ApiKeys:0"] = "k1", ["RegionChat:ApiKeys:1"] = "k2" });
        var client = host.Client;

        foreach (var headers in new Metadata?[] { null, ServerHost.Bearer("wrong"), new() { { "authorization", "k1" } }, ServerHost.Bearer("") })
        {
            var e = await Calls.FailsAsync(() => client.ListModelsAsync(new(), headers, Calls.Deadline()).ResponseAsync);
            Assert.Equal(StatusCode.Unauthenticated, e.StatusCode);
            Assert.Contains("authorization: Bearer", e.Status.Detail);
            Calls.AssertCleanMessage(e.Status.Detail);
            e = await Calls.FailsAsync(() => Calls.DrainAsync(client.Chat(Calls.Chat("hi"), headers, Calls.Deadline())));
            Assert.Equal(StatusCode.Unauthenticated, e.StatusCode);
        }
        // Streaming calls of both kinds are guarded too, and so is reflection.
        var upload = await Calls.FailsAsync(async () =>
        {
            using var call = client.UploadImage(deadline: Calls.Deadline());
            await call.RequestStream.CompleteAsync();
            await call.ResponseAsync;
        });
        Assert.Equal(StatusCode.Unauthenticated, upload.StatusCode);
        var stream = await Calls.FailsAsync(async () =>
        {
            using var call = client.CaptionStream(deadline: Calls.Deadline());
            await call.RequestStream.CompleteAsync();
            await foreach (var _ in call.ResponseStream.ReadAllAsync()) { }
        });
        Assert.Equal(StatusCode.Unauthenticated, stream.StatusCode);
        var reflection = await Calls.FailsAsync(() => ListServicesAsync(host.Channel.CreateCallInvoker(), null));
        Assert.Equal(StatusCode.Unauthenticated, reflection.StatusCode);

        // The right keys work (either of them, with any case of "Bearer").
        Assert.Equal("tiny", (await client.ListModelsAsync(new(), ServerHost.Bearer("k1"), Calls.Deadline())).DefaultModel);
        var chat = await client.ChatAsync(Calls.Chat("hi", TestImages.Scene(3)), new Metadata { { "authorization", "bearer k2" } });
        Assert.Equal(16u, chat.Started.VisualTokens);
        Assert.Contains("regionchat.v1.RegionChat", await ListServicesAsync(host.Channel.CreateCallInvoker(), ServerHost.Bearer("k2")));

        // Health stays open so probes need no key.
        var health = await new Health.HealthClient(host.Channel).CheckAsync(new HealthCheckRequest(), deadline: Calls.Deadline());
        Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, health.Status);
    }

    static async Task<List<string>> ListServicesAsync(CallInvoker invoker, Metadata? headers)
    {
        var client = new ServerReflection.ServerReflectionClient(invoker);
        using var call = client.ServerReflectionInfo(headers, Calls.Deadline());
        try
        {
            await call.RequestStream.WriteAsync(new ServerReflectionRequest { ListServices = "" });
        }
        catch (RpcException e) when (e.StatusCode == StatusCode.Cancelled)
        {
            // The server refused the call while the write was in flight: its status comes with the response.
            await call.ResponseStream.MoveNext();
            throw;
        }
        await call.RequestStream.CompleteAsync();
        var names = new List<string>();
        await foreach (var r in call.ResponseStream.ReadAllAsync())
            names.AddRange(r.ListServicesResponse.Service.Select(s => s.Name));
        return names;
    }
}
