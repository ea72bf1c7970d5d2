using System.Diagnostics;

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
