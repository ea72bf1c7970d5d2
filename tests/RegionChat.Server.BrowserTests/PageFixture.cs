using Microsoft.Playwright;
using RegionChat.TestSupport;

namespace RegionChat.Server.BrowserTests;

/// <summary>One server and one headless Chromium for all page tests (starting either costs seconds).</summary>
public sealed class PageFixture : IAsyncLifetime
{
    /// <summary>Debian's Chromium (<c>apt-get install chromium</c>; .ci/run installs it). Playwright drives it as it is:
    /// no browser download.</summary>
    public const string ChromiumPath = "/usr/bin/chromium";

    IPlaywright? playwright;
    IBrowser? browser;
    PageServer? server;

    /// <summary>Why the tests cannot run here, or null.</summary>
    public string? SkipReason { get; private set; }

    public IBrowser Browser => browser ?? throw new InvalidOperationException(SkipReason);
    public PageServer Server => server ?? throw new InvalidOperationException(SkipReason);

    /// <summary>Screenshots of the tests: tests/RegionChat.Server.BrowserTests/TestResults/browser/.</summary>
    public static string ScreenshotFolder { get; } =
        Path.Combine(SharedFiles.RepoRoot, "tests", "RegionChat.Server.BrowserTests", "TestResults", "browser");

    public async Task InitializeAsync()
    {
        if (!File.Exists(ChromiumPath))
        {
            SkipReason = $"needs Chromium at {ChromiumPath} (apt-get install chromium), absent here";
            return;
        }
        string? model = PageServer.CommittedShapesModel;
        if (model == null)
        {
            SkipReason = $"needs the committed model folder models/{PageServer.ShapesModel}, absent here";
            return;
        }
        server = await PageServer.StartAsync(model);
        playwright = await Playwright.CreateAsync();
        browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = ChromiumPath,
            Headless = true,
            Args = ["--no-sandbox"], // runs as root in containers, where Chromium's sandbox cannot start
        });
    }

    public async Task DisposeAsync()
    {
        if (browser != null) await browser.DisposeAsync();
        playwright?.Dispose();
        if (server != null) await server.DisposeAsync();
    }
}

[CollectionDefinition(Name)]
public sealed class PageCollection : ICollectionFixture<PageFixture>
{
    public const string Name = "web page";
}
