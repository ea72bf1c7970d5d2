using System.Diagnostics;
using RegionChat.TestSupport;

namespace RegionChat.Cli.Tests;

/// <summary>
/// The built regionchat.dll as a child process, so stdout is the real file descriptor 1: whatever llama.cpp, libtorch
/// or ASP.NET write natively would show up there. It must hold the answer and nothing else.
/// </summary>
public sealed class ChildProcessTests(TinyServerFixture fx) : IClassFixture<TinyServerFixture>
{
    static async Task<(int Exit, string Out, string Err)> RunChildAsync(params string[] args)
    {
        using var process = Process.Start(CliRunner.ChildProcessStart(args))!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, await stdout, await stderr);
    }

    [Fact]
    public async Task ABrokenPthNamesTheExpectedAndTheFoundFormatInOneLineWithoutAStackTrace()
    {
        using var temp = new TempDir();
        string broken = temp.File("broken");
        Directory.CreateDirectory(broken);
        foreach (var file in Directory.GetFiles(fx.ModelDir)) File.Copy(file, Path.Combine(broken, Path.GetFileName(file)));
        File.WriteAllText(Path.Combine(broken, "vision.pth"), "<!DOCTYPE html><html><body>404 Not Found</body></html>");
        string manifest = Path.Combine(broken, "model.json");
        File.WriteAllText(manifest, File.ReadAllText(manifest).Replace("\"vision.safetensors\"", "\"vision.pth\""));

        var caption = await RunChildAsync("caption", "--model", broken, "--image", fx.ImagePath, "--threads", "1");
        Assert.Equal(1, caption.Exit);
        Assert.Equal("", caption.Out);
        string line = Assert.Single(caption.Err.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("error: ", line);
        Assert.Contains("vision.pth: expected a zip-format torch.save file", line);
        Assert.Contains("found an HTML", line);
        Assert.DoesNotContain("safetensors file, or truncated", line);
        Assert.DoesNotContain(" at ", caption.Err);
    }

    [Fact]
    public async Task CaptionAndChatWriteOnlyTheAnswerToTheRealStdout()
    {
        string[] region = ["--image", fx.ImagePath, "--box", fx.Box, "--max-tokens", "8"];
        var inProcess = await CliRunner.RunAsync(["caption", "--model", fx.ModelDir, .. region, "--threads", "1"]);
        Assert.True(inProcess.Exit == 0, inProcess.Err);
        Assert.False(string.IsNullOrWhiteSpace(inProcess.Out));

        var caption = await RunChildAsync(["caption", "--model", fx.ModelDir, .. region, "--threads", "1"]);
        Assert.True(caption.Exit == 0, caption.Err);
        Assert.Equal(inProcess.Out, caption.Out);
        Assert.Contains("loaded tiny", caption.Err);

        var chat = await RunChildAsync(["chat", "--server", fx.Url, .. region, ""]);
        Assert.True(chat.Exit == 0, chat.Err);
        Assert.Equal(inProcess.Out, chat.Out);
        Assert.Contains("session s-", chat.Err);
    }
}
