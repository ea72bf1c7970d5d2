using System.Text.Json;
using System.Text.RegularExpressions;
using RegionChat.TestSupport;
using RegionChat.Data.Shapes;
using Xunit.Abstractions;

namespace RegionChat.Server.BrowserTests;

/// <summary>The page at "/" in headless Chromium against a real server: upload a shapes scene, draw a box, chat.</summary>
[Collection(PageCollection.Name)]
public sealed class WebPageTests(PageFixture fixture, ITestOutputHelper output)
{
    const string Question = "describe this region";

    async Task<ChatPage> OpenAsync()
    {
        Skip.If(fixture.SkipReason != null, fixture.SkipReason);
        return await ChatPage.OpenAsync(fixture);
    }

    /// <summary>Uploads a scene, boxes its isolated object with the mouse and asks about it; returns the finished answer.</summary>
    async Task<(string Answer, JsonElement Request, ShapesObject Target)> AskAboutBoxedObjectAsync(ChatPage page, TempDir temp, string screenshot)
    {
        var pick = IsolatedObject.Find();
        string png = pick.SavePng(temp.File($"scene-{pick.Scene.Seed}.png"));
        await page.UploadAsync(png);
        await page.DrawBoxAsync(pick.Target.Box, pick.Scene.Width, pick.Scene.Height);
        var b = pick.Target.Box;
        Assert.Equal($"{{\"box\":[{b.X0},{b.Y0},{b.X1},{b.Y1}]}}", await page.RegionTextAsync()); // image pixels, not screen pixels

        var request = await page.AskAsync(Question);
        string answer = await page.WaitForAnswerAsync();
        string path = await page.ScreenshotAsync(screenshot);
        output.WriteLine($"scene {pick.Scene.Seed}, boxed {pick.Target.Caption} at {b}; answer \"{answer}\"; screenshot {path}");
        return (answer, request, pick.Target);
    }

    [SkippableFact]
    public async Task ModelListShowsTheServedModels()
    {
        await using var page = await OpenAsync();
        var models = await page.ModelsAsync();
        Assert.Contains(PageServer.ShapesModel, models);
        Assert.Contains(PageServer.RandomModel, models);
        Assert.Empty(page.PageErrors);
    }

    [SkippableFact]
    public async Task ImageDroppedOnTheStageIsShown()
    {
        using var temp = new TempDir();
        await using var page = await OpenAsync();
        string png = IsolatedObject.Find().SavePng(temp.File("dropped.png"));
        // A drop as the browser delivers it: a DataTransfer holding the file, on the stage.
        await page.Page.EvaluateAsync("""
            async base64 => {
              const bytes = Uint8Array.from(atob(base64), c => c.charCodeAt(0));
              const data = new DataTransfer();
              data.items.add(new File([bytes], 'dropped.png', { type: 'image/png' }));
              document.getElementById('stage').dispatchEvent(new DragEvent('drop', { dataTransfer: data, bubbles: true, cancelable: true }));
            }
            """, Convert.ToBase64String(File.ReadAllBytes(png)));
        await page.Page.WaitForSelectorAsync("#stage.has-image");
        Assert.Equal("dropped.png · 64×64 px", await page.TextAsync("#image-info"));
        var canvas = await page.Page.Locator("#canvas").BoundingBoxAsync();
        Assert.True(canvas is { Width: > 64, Height: > 64 }); // the 64-pixel scene is shown enlarged
        Assert.Empty(page.PageErrors);
    }

    [SkippableFact]
    public async Task BoxOverAnObjectGetsAStreamedAnswerWithUsageAndTimings()
    {
        using var temp = new TempDir();
        await using var page = await OpenAsync();
        await page.SelectModelAsync(PageServer.ShapesModel);
        var (answer, request, target) = await AskAboutBoxedObjectAsync(page, temp, "box-answer");

        // The request is the OpenAI chat shape with the region extension next to the image.
        Assert.True(request.GetProperty("stream").GetBoolean());
        var content = request.GetProperty("messages")[0].GetProperty("content");
        Assert.Equal(Question, content[0].GetProperty("text").GetString());
        Assert.StartsWith("data:image/png;base64,", content[1].GetProperty("image_url").GetProperty("url").GetString());
        var box = content[1].GetProperty("region").GetProperty("box").EnumerateArray().Select(v => v.GetDouble()).ToArray();
        Assert.Equal(new double[] { target.Box.X0, target.Box.Y0, target.Box.X1, target.Box.Y1 }, box);

        Assert.False(string.IsNullOrWhiteSpace(answer));
        Assert.Matches(@"^prompt \d+ \(cached \d+\) · visual [1-9]\d* · completion [1-9]\d* · total \d+$", await page.TextAsync("#usage"));
        Assert.Matches(@"\d ms", await page.TextAsync("#timings"));
        Assert.NotEqual("", (await page.TextAsync("#session")).Trim());
        Assert.Equal(2, await page.MessageCountAsync());
        Assert.Empty(page.PageErrors);
    }

    /// <summary>The acceptance check: the streamed answer names the boxed object's colour and shape (the scene's ground
    /// truth). Three scenes in a row (the first three test-split scenes with an isolated large object, one New session
    /// each); at least two must be named right, since a model is right on most boxes, not all (the retrained shapes-tiny
    /// names 27 of the first 30 such objects through the OpenAI endpoint, and calls the first one's cross a triangle).</summary>
    [SkippableFact]
    public async Task AnswersNameTheBoxedObjectsColourAndShape()
    {
        using var temp = new TempDir();
        await using var page = await OpenAsync();
        await page.SelectModelAsync(PageServer.ShapesModel);
        var results = new List<string>();
        int named = 0;
        long seed = 1_000_000_000;
        for (int i = 0; i < 3; i++)
        {
            var pick = IsolatedObject.Find(seed);
            seed = pick.Scene.Seed + 1;
            if (i > 0) await page.Page.ClickAsync("#new-session");
            await page.UploadAsync(pick.SavePng(temp.File($"scene-{pick.Scene.Seed}.png")));
            await page.DrawBoxAsync(pick.Target.Box, pick.Scene.Width, pick.Scene.Height);
            await page.AskAsync(Question);
            string answer = await page.WaitForAnswerAsync();
            string path = await page.ScreenshotAsync($"box-named-{pick.Scene.Seed}");
            bool right = Regex.IsMatch(answer, $@"\b{pick.Target.Color.Word()}\b", RegexOptions.IgnoreCase)
                && Regex.IsMatch(answer, $@"\b{pick.Target.Shape.Word()}\b", RegexOptions.IgnoreCase);
            if (right) named++;
            results.Add($"scene {pick.Scene.Seed}: boxed {pick.Target.Caption} at {pick.Target.Box}, answer \"{answer}\" ({(right ? "named" : "WRONG")}; {path})");
        }
        foreach (string line in results) output.WriteLine(line);
        Assert.True(named >= 2, $"{named} of 3 boxed objects named by colour and shape:\n" + string.Join("\n", results));
    }

    /// <summary>Settings' "Answer as": one of the lines written there (sent as vLLM's guided_choice) answers a boxed object
    /// with one of the scene's captions, a JSON object (response_format json_object) keeps the answer one, so does a
    /// pattern (guided_regex), and a choice
    /// without lines keeps the question and says what is missing instead of sending it.</summary>
    [SkippableFact]
    public async Task AnswerAsKeepsTheAnswerToTheLinesOrToAJsonObject()
    {
        using var temp = new TempDir();
        await using var page = await OpenAsync();
        await page.SelectModelAsync(PageServer.ShapesModel);
        var pick = IsolatedObject.Find();
        await page.UploadAsync(pick.SavePng(temp.File($"scene-{pick.Scene.Seed}.png")));
        await page.DrawBoxAsync(pick.Target.Box, pick.Scene.Width, pick.Scene.Height);
        string[] captions = pick.Scene.Objects.Select(o => o.Caption).Distinct().ToArray();

        await page.SetAnswerFormatAsync("choice", "", "  ");
        await page.Page.FillAsync("#question", Question);
        await page.Page.ClickAsync("#send");
        Assert.Contains("one per line", await page.ErrorTextAsync());
        Assert.Equal(Question, await page.Page.InputValueAsync("#question"));
        Assert.Equal(0, await page.MessageCountAsync());

        await page.SetAnswerFormatAsync("choice", [.. captions.Select(c => " " + c + " "), ""]);
        var request = await page.AskAsync(Question);
        Assert.Equal(captions, request.GetProperty("guided_choice").EnumerateArray().Select(c => c.GetString()));
        string chosen = await page.WaitForAnswerAsync();
        Assert.Contains(chosen, captions);

        await page.SetAnswerFormatAsync("json");
        request = await page.AskAsync(Question);
        Assert.Equal("json_object", request.GetProperty("response_format").GetProperty("type").GetString());
        Assert.False(request.TryGetProperty("guided_choice", out _));
        string json = await page.WaitForAnswerAsync();
        Assert.True(json.StartsWith('{') && JsonPrefix.IsObjectSoFar(json), json);

        await page.SetAnswerFormatAsync("regex", "(small|large) (thing|object)");
        request = await page.AskAsync(Question);
        Assert.Equal("(small|large) (thing|object)", request.GetProperty("guided_regex").GetString());
        string matched = await page.WaitForAnswerAsync();
        Assert.Matches("^(small|large) (thing|object)$", matched);

        await page.SetAnswerFormatAsync("text");
        request = await page.AskAsync(Question);
        Assert.False(request.TryGetProperty("response_format", out _) || request.TryGetProperty("guided_choice", out _)
                     || request.TryGetProperty("guided_regex", out _));
        string free = await page.WaitForAnswerAsync();
        output.WriteLine($"boxed {pick.Target.Caption}: chose \"{chosen}\", JSON \"{json}\", free \"{free}\"; {await page.ScreenshotAsync("answer-as")}");
        Assert.Empty(page.PageErrors);
    }

    /// <summary>As soon as the streaming answer shows text, clicks #stop (argument "") or picks the model named by the
    /// argument; resolves to the length shown then, to -1 when the answer ended before the page got to show it streaming
    /// (a starved renderer can read the whole stream at once), to -3 when the chat was not marked busy meanwhile, or to
    /// -2 after two minutes.</summary>
    const string ActOnFirstText = """
        model => new Promise(resolve => {
          const answer = document.querySelector('#answer');
          const text = answer.querySelector('.text');
          setTimeout(() => resolve(-2), 120000);
          const actNow = () => {
            if (answer.dataset.state !== 'streaming') { resolve(-1); return true; }
            if (text.textContent.length === 0) return false;
            if (document.getElementById('messages').getAttribute('aria-busy') !== 'true') { resolve(-3); return true; }
            if (model === '') document.getElementById('stop').click();
            else {
              const models = document.getElementById('models');
              models.value = model;
              models.dispatchEvent(new Event('change'));
            }
            resolve(text.textContent.length);
            return true;
          };
          if (actNow()) return;
          const watch = new MutationObserver(() => { if (actNow()) watch.disconnect(); });
          watch.observe(answer, { childList: true, characterData: true, subtree: true, attributes: true });
        })
        """;

    /// <summary>Asks the random model (which runs on to max_tokens) about a scene and, the moment the first words show,
    /// stops the answer (<paramref name="model"/> "") or picks that model (<see cref="ActOnFirstText"/>: from inside the
    /// page, since decoding runs at thousands of tokens a second, faster than a round trip from the test would be sure to
    /// catch). When the page only got to the stream after it had ended, it starts a new session and asks again.</summary>
    async Task<int> AskAndActOnFirstTextAsync(ChatPage page, TempDir temp, string model)
    {
        await page.SelectModelAsync(PageServer.RandomModel);
        await page.SetMaxTokensAsync(1500);
        await page.UploadAsync(IsolatedObject.Find().SavePng(temp.File("scene.png")));
        int shown = 0;
        for (int attempt = 0; attempt < 6 && shown <= 0; attempt++)   // 3 were too few once, with every test assembly running at once
        {
            if (attempt > 0)
            {
                await page.WaitForAnswerAsync();
                await page.SelectModelAsync(PageServer.RandomModel);
                await page.Page.ClickAsync("#new-session");
            }
            await page.AskAsync(Question);
            shown = await page.Page.EvaluateAsync<int>(ActOnFirstText, model);
            output.WriteLine($"attempt {attempt + 1}: {shown switch
            {
                > 0 => $"acted at {shown} characters",
                -1 => "the answer ended before the page could act",
                -3 => "the chat was not marked busy while it streamed",
                _ => "no text within 2 minutes",
            }}");
        }
        return shown;
    }

    [SkippableFact]
    public async Task StopMidAnswerLeavesThePageUsable()
    {
        using var temp = new TempDir();
        await using var page = await OpenAsync();
        int shown = await AskAndActOnFirstTextAsync(page, temp, "");
        Assert.True(shown != -3, "the chat was not marked busy while the answer streamed");
        Assert.True(shown > 0, "the answer never showed text while streaming");
        await page.Page.WaitForSelectorAsync("#answer[data-state='stopped']");
        Assert.True(await page.Page.IsEnabledAsync("#send"));
        Assert.False(await page.Page.IsEnabledAsync("#stop"));
        Assert.False(await page.Page.IsVisibleAsync("#error"));
        string stopped = await page.TextAsync("#answer .text");
        await page.ScreenshotAsync("stopped");

        // The page takes the next question and answers it to the end.
        await page.SetMaxTokensAsync(8);
        await page.AskAsync("what color is it");
        string next = await page.WaitForAnswerAsync();
        output.WriteLine($"stopped after {stopped.Length} characters; next answer \"{next}\"");
        Assert.False(string.IsNullOrWhiteSpace(next));
        Assert.Equal(4, await page.MessageCountAsync());
        Assert.Equal("stopped", await page.Page.GetAttributeAsync("#messages .msg.assistant >> nth=0", "data-state"));
        Assert.Empty(page.PageErrors);
    }

    [SkippableFact]
    public async Task FollowUpContinuesTheSessionAndNewSessionResetsIt()
    {
        using var temp = new TempDir();
        await using var page = await OpenAsync();
        await page.SelectModelAsync(PageServer.ShapesModel);
        await page.SetMaxTokensAsync(16);
        await page.UploadAsync(IsolatedObject.Find().SavePng(temp.File("scene.png")));

        var first = await page.AskAsync(Question);
        await page.WaitForAnswerAsync();
        Assert.False(first.TryGetProperty("session_id", out _));
        string session = (await page.TextAsync("#session")).Trim();
        Assert.StartsWith("session ", session);

        // A follow-up carries the session and only the new text: the server holds the image and the earlier turns.
        var follow = await page.AskAsync("what shape is it");
        await page.WaitForAnswerAsync();
        Assert.Equal(session, "session " + follow.GetProperty("session_id").GetString());
        var followContent = follow.GetProperty("messages")[0].GetProperty("content");
        Assert.Equal(1, followContent.GetArrayLength());
        Assert.Equal(4, await page.MessageCountAsync());

        await page.Page.ClickAsync("#new-session");
        Assert.Equal(0, await page.MessageCountAsync());
        Assert.Equal("", (await page.TextAsync("#session")).Trim());
        Assert.Equal("–", await page.TextAsync("#usage"));
        Assert.Equal("–", await page.TextAsync("#timings"));

        // The next turn starts a new session and sends the image again.
        var fresh = await page.AskAsync(Question);
        await page.WaitForAnswerAsync();
        Assert.False(fresh.TryGetProperty("session_id", out _));
        Assert.Equal(2, fresh.GetProperty("messages")[0].GetProperty("content").GetArrayLength());
        string newSession = (await page.TextAsync("#session")).Trim();
        Assert.StartsWith("session ", newSession);
        Assert.NotEqual(session, newSession);
        Assert.Empty(page.PageErrors);
    }

    /// <summary>Issue 12's acceptance on the page: after an answer about one boxed object, Clear region + a box over
    /// another object + Send continues the session with the new region, and the answer names the new object's colour
    /// and shape. Three scenes whose two objects differ in both; at least two must be right (a model is right on most
    /// boxes, not all).</summary>
    [SkippableFact]
    public async Task ClearRegionAndANewBoxAnswersAboutTheNewBox()
    {
        using var temp = new TempDir();
        await using var page = await OpenAsync();
        await page.SelectModelAsync(PageServer.ShapesModel);
        var results = new List<string>();
        int named = 0;
        long seed = 1_000_000_000;
        for (int i = 0; i < 3; i++)
        {
            var pair = IsolatedPair.Find(seed);
            seed = pair.Scene.Seed + 1;
            if (i > 0) await page.Page.ClickAsync("#new-session");
            await page.UploadAsync(pair.SavePng(temp.File($"scene-{pair.Scene.Seed}.png")));
            await page.DrawBoxAsync(pair.First.Box, pair.Scene.Width, pair.Scene.Height);
            await page.AskAsync(Question);
            string first = await page.WaitForAnswerAsync();

            await page.Page.ClickAsync("#clear-region");
            Assert.Equal("whole image", await page.RegionTextAsync());
            await page.DrawBoxAsync(pair.Second.Box, pair.Scene.Width, pair.Scene.Height);
            var request = await page.AskAsync(Question);
            string second = await page.WaitForAnswerAsync();
            string path = await page.ScreenshotAsync($"new-box-{pair.Scene.Seed}");

            // The second turn continues the session and carries the new box.
            Assert.True(request.TryGetProperty("session_id", out _), "the turn after Clear region did not continue the session");
            string sent = request.GetProperty("messages")[0].GetProperty("content").ToString();
            var b = pair.Second.Box;
            Assert.Contains($"[{b.X0},{b.Y0},{b.X1},{b.Y1}]", sent.Replace(" ", ""));

            bool right = Regex.IsMatch(second, $@"\b{pair.Second.Color.Word()}\b", RegexOptions.IgnoreCase)
                && Regex.IsMatch(second, $@"\b{pair.Second.Shape.Word()}\b", RegexOptions.IgnoreCase);
            if (right) named++;
            results.Add($"scene {pair.Scene.Seed}: boxed {pair.First.Caption} (answer \"{first}\"), then {pair.Second.Caption} at {b}, " +
                        $"answer \"{second}\" ({(right ? "named" : "WRONG")}; {path})");
        }
        foreach (string line in results) output.WriteLine(line);
        Assert.True(named >= 2, $"{named} of 3 second boxes named by colour and shape:\n" + string.Join("\n", results));
        Assert.Empty(page.PageErrors);
    }

    [SkippableFact]
    public async Task SwitchingTheModelMidAnswerStopsItAndTheNextQuestionStartsAFreshSession()
    {
        using var temp = new TempDir();
        await using var page = await OpenAsync();
        int shown = await AskAndActOnFirstTextAsync(page, temp, PageServer.ShapesModel);
        Assert.True(shown != -3, "the chat was not marked busy while the answer streamed");
        Assert.True(shown > 0, "the answer never showed text while streaming");
        await page.Page.WaitForSelectorAsync("#answer[data-state='stopped']");
        Assert.Equal("", await page.TextAsync("#session"));   // the old model's session is not taken back
        Assert.Equal("false", await page.Page.GetAttributeAsync("#messages", "aria-busy"));
        Assert.Equal(1, await page.Page.GetByRole(Microsoft.Playwright.AriaRole.Textbox, new() { Name = "Question" }).CountAsync());

        await page.SetMaxTokensAsync(8);
        var request = await page.AskAsync("what color is it");
        Assert.False(request.TryGetProperty("session_id", out _));
        Assert.Equal(PageServer.ShapesModel, request.GetProperty("model").GetString());
        Assert.False(string.IsNullOrWhiteSpace(await page.WaitForAnswerAsync()));
        Assert.Empty(page.PageErrors);
    }

    [SkippableFact]
    public async Task ADropAnywhereOpensTheImageNoRegionIsTheWholeImageAndAFailedQuestionComesBack()
    {
        using var temp = new TempDir();
        await using var page = await OpenAsync();
        string png = IsolatedObject.Find().SavePng(temp.File("dropped.png"));
        // Dropped on the chat, not the stage: the page opens it instead of the browser leaving the page for the file.
        bool kept = await page.Page.EvaluateAsync<bool>("""
            async base64 => {
              const bytes = Uint8Array.from(atob(base64), c => c.charCodeAt(0));
              const data = new DataTransfer();
              data.items.add(new File([bytes], 'dropped.png', { type: 'image/png' }));
              const drop = new DragEvent('drop', { dataTransfer: data, bubbles: true, cancelable: true });
              return !document.getElementById('messages').dispatchEvent(drop);   // false when the page took it
            }
            """, Convert.ToBase64String(File.ReadAllBytes(png)));
        Assert.True(kept, "the drop was left to the browser");
        await page.Page.WaitForSelectorAsync("#stage.has-image");

        // Nothing drawn: the whole image, said outright (a transparent image would otherwise be cut to its alpha).
        await page.SetMaxTokensAsync(4);
        var request = await page.AskAsync(Question);
        var image = request.GetProperty("messages")[0].GetProperty("content").EnumerateArray().Single(p => p.GetProperty("type").GetString() == "image_url");
        Assert.True(image.GetProperty("region").GetProperty("whole").GetBoolean());
        await page.WaitForAnswerAsync();

        // A turn the server refuses (max tokens over its limit) puts the question back for another try.
        await page.SetMaxTokensAsync(100000);
        await page.AskAsync("what color is it");
        await page.Page.WaitForSelectorAsync("#answer[data-state='error']");
        Assert.Equal("what color is it", await page.Page.InputValueAsync("#question"));
        Assert.Empty(page.PageErrors);
    }

    [SkippableFact]
    public async Task AnImageTheServerCannotReadGoesAsPngAndABrushStrokeOnALargeImageStaysSmall()
    {
        await using var page = await OpenAsync();
        // An SVG: the browser shows it, the server reads no SVG.
        await page.Page.EvaluateAsync("""
            () => {
              const svg = '<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64"><rect width="64" height="64" fill="#ffffff"/>' +
                          '<circle cx="32" cy="32" r="12" fill="#ff0000"/></svg>';
              const data = new DataTransfer();
              data.items.add(new File([svg], 'drawing.svg', { type: 'image/svg+xml' }));
              document.getElementById('stage').dispatchEvent(new DragEvent('drop', { dataTransfer: data, bubbles: true, cancelable: true }));
            }
            """);
        await page.Page.WaitForSelectorAsync("#stage.has-image");
        await page.SetMaxTokensAsync(4);
        var request = await page.AskAsync(Question);
        var image = request.GetProperty("messages")[0].GetProperty("content").EnumerateArray().Single(p => p.GetProperty("type").GetString() == "image_url");
        Assert.StartsWith("data:image/png;base64,", image.GetProperty("image_url").GetProperty("url").GetString());
        await page.WaitForAnswerAsync();   // and the server reads it

        // A 1600-pixel image and a stroke of 200 small pointer moves: a point every quarter brush width, not every move.
        await page.Page.EvaluateAsync("""
            async () => {
              const c = document.createElement('canvas');
              c.width = c.height = 1600;
              c.getContext('2d').fillRect(0, 0, 800, 800);
              const blob = await new Promise(r => c.toBlob(r, 'image/png'));
              const data = new DataTransfer();
              data.items.add(new File([blob], 'large.png', { type: 'image/png' }));
              document.getElementById('stage').dispatchEvent(new DragEvent('drop', { dataTransfer: data, bubbles: true, cancelable: true }));
            }
            """);
        await page.Page.WaitForFunctionAsync("() => document.getElementById('image-info').textContent.includes('1600×1600')");
        await page.Page.ClickAsync("#tool-brush");
        var bounds = await page.Page.Locator("#canvas").BoundingBoxAsync() ?? throw new InvalidOperationException("the canvas is not shown");
        float x = bounds.X + bounds.Width / 8, y = bounds.Y + bounds.Height / 2;
        await page.Page.Mouse.MoveAsync(x, y);
        await page.Page.Mouse.DownAsync();
        for (int i = 1; i <= 200; i++) await page.Page.Mouse.MoveAsync(x + i * bounds.Width / 400, y);
        await page.Page.Mouse.UpAsync();
        using var region = JsonDocument.Parse(await page.RegionTextAsync());
        var scribble = region.RootElement.GetProperty("scribble");
        int points = scribble.GetProperty("points").GetArrayLength() / 2;
        double width = scribble.GetProperty("width").GetDouble();
        output.WriteLine($"{points} points, width {width}");
        Assert.InRange(points, 2, 1 + (int)Math.Ceiling(800 / (width / 4)));   // 800 image pixels long
        Assert.Empty(page.PageErrors);
    }

    [SkippableFact]
    public async Task ABusyServerIsAskedAgainAfterItsRetryAfter()
    {
        using var temp = new TempDir();
        await using var page = await OpenAsync();
        await page.UploadAsync(IsolatedObject.Find().SavePng(temp.File("scene.png")));
        await page.SetMaxTokensAsync(4);
        // The first two turns posted meet a full queue (as the server says it: 429, Retry-After 1), then the server.
        int refused = 0;
        await page.Page.RouteAsync("**/v1/chat/completions", async route =>
        {
            if (Interlocked.Increment(ref refused) <= 2)
                await route.FulfillAsync(new()
                {
                    Status = 429, ContentType = "application/json", Headers = new Dictionary<string, string> { ["Retry-After"] = "1" },
                    Body = """{"error":{"message":"the request queue is full","type":"rate_limit_error","code":"rate_limit_exceeded"}}""",
                });
            else await route.ContinueAsync();
        });
        var started = DateTime.UtcNow;
        await page.AskAsync(Question);
        Assert.False(string.IsNullOrWhiteSpace(await page.WaitForAnswerAsync()));
        Assert.Equal(3, refused);
        Assert.Equal("2", await page.Page.GetAttributeAsync("#answer", "data-retries"));
        Assert.True(DateTime.UtcNow - started >= TimeSpan.FromSeconds(1.9), "the page did not wait as Retry-After asked");
        Assert.False(await page.Page.IsVisibleAsync("#error"));
        Assert.Empty(page.PageErrors);
    }
}
