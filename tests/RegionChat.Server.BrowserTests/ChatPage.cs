using System.Text.Json;
using Microsoft.Playwright;
using RegionChat.Data.Shapes;

namespace RegionChat.Server.BrowserTests;

/// <summary>The web page in one browser tab, driven the way a user drives it (file input, mouse, keyboard, buttons).</summary>
public sealed class ChatPage : IAsyncDisposable
{
    /// <summary>Generous: the server shares two cores with whatever else runs.</summary>
    const float AnswerTimeoutMs = 180_000;

    readonly IBrowserContext context;
    readonly List<string> pageErrors = [];

    ChatPage(IBrowserContext context, IPage page)
    {
        this.context = context;
        Page = page;
        page.PageError += (_, message) => { lock (pageErrors) pageErrors.Add(message); };
    }

    public IPage Page { get; }

    /// <summary>Uncaught script errors so far.</summary>
    public IReadOnlyList<string> PageErrors { get { lock (pageErrors) return pageErrors.ToArray(); } }

    public static async Task<ChatPage> OpenAsync(PageFixture fixture)
    {
        var context = await fixture.Browser.NewContextAsync(new BrowserNewContextOptions { ViewportSize = new ViewportSize { Width = 1200, Height = 800 } });
        var page = await context.NewPageAsync();
        page.SetDefaultTimeout(90_000); // the machine may be busy: the first model listing loads every model
        var chat = new ChatPage(context, page);
        await page.GotoAsync(fixture.Server.Address.ToString());
        return chat;
    }

    /// <summary>The model ids in the model list, once it has loaded.</summary>
    public async Task<string[]> ModelsAsync()
    {
        await Page.WaitForSelectorAsync("#models option, #error:not([hidden])", new() { State = WaitForSelectorState.Attached });
        if (await Page.Locator("#models option").CountAsync() == 0)
            throw new InvalidOperationException("the page shows no models: " + await ErrorTextAsync());
        return await Page.EvalOnSelectorAllAsync<string[]>("#models option", "options => options.map(o => o.value)");
    }

    public async Task SelectModelAsync(string id)
    {
        await Page.WaitForSelectorAsync($"#models option[value='{id}']", new() { State = WaitForSelectorState.Attached });
        await Page.SelectOptionAsync("#models", id);
    }

    /// <summary>Sets max tokens in the Settings panel (opened if closed).</summary>
    public async Task SetMaxTokensAsync(int n)
    {
        if (!await Page.IsVisibleAsync("#max-tokens")) await Page.ClickAsync("#settings summary");
        await Page.FillAsync("#max-tokens", n.ToString());
    }

    /// <summary>Sets "Answer as" in the Settings panel (opened if closed): "text", "json", "choice" with these lines, or
    /// "regex" with the first as the pattern.</summary>
    public async Task SetAnswerFormatAsync(string format, params string[] choices)
    {
        if (!await Page.IsVisibleAsync("#answer-format")) await Page.ClickAsync("#settings summary");
        await Page.SelectOptionAsync("#answer-format", format);
        if (format == "choice") await Page.FillAsync("#choices", string.Join("\n", choices));
        if (format == "regex") await Page.FillAsync("#pattern", choices.FirstOrDefault() ?? "");
    }

    public async Task UploadAsync(string pngPath)
    {
        await Page.SetInputFilesAsync("#image-input", pngPath);
        await Page.WaitForSelectorAsync("#stage.has-image");
    }

    /// <summary>Drags a box with the mouse from one image pixel corner to another (coordinates in IMAGE pixels; the canvas
    /// shows the image enlarged). The ends sit a third of a pixel inside, so the page's outward snap gives exactly the box.</summary>
    public async Task DrawBoxAsync(PixelBox box, int imageWidth, int imageHeight)
    {
        await Page.ClickAsync("#tool-box");
        var bounds = await Page.Locator("#canvas").BoundingBoxAsync() ?? throw new InvalidOperationException("the canvas is not shown");
        (float X, float Y) Screen(double x, double y) =>
            ((float)(bounds.X + x * bounds.Width / imageWidth), (float)(bounds.Y + y * bounds.Height / imageHeight));
        var from = Screen(box.X0 + 0.33, box.Y0 + 0.33);
        var to = Screen(box.X1 - 0.33, box.Y1 - 0.33);
        await Page.Mouse.MoveAsync(from.X, from.Y);
        await Page.Mouse.DownAsync();
        await Page.Mouse.MoveAsync(to.X, to.Y, new() { Steps = 8 });
        await Page.Mouse.UpAsync();
    }

    /// <summary>The region as the page will send it (its JSON), or "whole image".</summary>
    public Task<string> RegionTextAsync() => Page.InnerTextAsync("#region-json");

    /// <summary>Types the question and presses Send; returns the JSON body of the chat request the page made.</summary>
    public async Task<JsonElement> AskAsync(string question)
    {
        await Page.FillAsync("#question", question);
        var request = await Page.RunAndWaitForRequestAsync(() => Page.ClickAsync("#send"), "**/v1/chat/completions");
        return request.PostDataJSON() ?? throw new InvalidOperationException("the chat request has no JSON body");
    }

    /// <summary>Waits until the newest answer has finished streaming and returns its text.</summary>
    public async Task<string> WaitForAnswerAsync()
    {
        await Page.WaitForSelectorAsync("#answer:not([data-state='streaming'])", new() { Timeout = AnswerTimeoutMs });
        string state = await Page.GetAttributeAsync("#answer", "data-state") ?? "";
        if (state != "done")
            throw new InvalidOperationException($"the answer ended as '{state}': {await ErrorTextAsync()}");
        return await Page.InnerTextAsync("#answer .text");
    }

    public async Task<string> ErrorTextAsync() =>
        await Page.IsVisibleAsync("#error") ? await Page.InnerTextAsync("#error") : "(no error shown)";

    public Task<int> MessageCountAsync() => Page.Locator("#messages .msg").CountAsync();

    public Task<string> TextAsync(string selector) => Page.InnerTextAsync(selector);

    /// <summary>Saves a screenshot of the whole page under <see cref="PageFixture.ScreenshotFolder"/> and returns its path.</summary>
    public async Task<string> ScreenshotAsync(string name)
    {
        Directory.CreateDirectory(PageFixture.ScreenshotFolder);
        string path = Path.Combine(PageFixture.ScreenshotFolder, name + ".png");
        await Page.ScreenshotAsync(new PageScreenshotOptions { Path = path, FullPage = true });
        return path;
    }

    public async ValueTask DisposeAsync() => await context.DisposeAsync();
}
