using LLama.Native;

namespace RegionChat.Llm.Engine.Internal;

/// <summary>What the loaded llama.cpp backend can do (native calls stay in Internal).</summary>
internal static class NativeBackend
{
    public static bool SupportsGpuOffload() => NativeApi.llama_supports_gpu_offload();
}
