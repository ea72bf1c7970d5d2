using System.CommandLine;
using TorchSharp;

namespace RegionChat.Cli.Commands;

/// <summary>`regionchat doctor`: checks that the native runtimes load on this machine.</summary>
internal static class DoctorCommand
{
    public static Command Create()
    {
        var command = new Command("doctor", "Check that libtorch (TorchSharp) and llama.cpp (LLamaSharp) load here.");
        command.SetAction(_ =>
        {
            using var t = torch.ones(2, 2).matmul(torch.ones(2, 2));
            Console.WriteLine($"torchsharp: ok (2x2 ones @ ones sum = {t.sum().item<float>()}, threads {torch.get_num_threads()})");
            LLama.Native.NativeApi.llama_empty_call();
            Console.WriteLine("llama.cpp: ok");
            return 0;
        });
        return command;
    }
}
