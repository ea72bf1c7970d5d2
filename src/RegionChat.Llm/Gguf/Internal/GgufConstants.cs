namespace RegionChat.Llm.Gguf.Internal;

internal static class GgufConstants
{
    public const uint Magic = 0x46554747; // "GGUF" read as a little-endian uint32
    public const uint Version = 3;
    public const int MaxDims = 4;            // GGML_MAX_DIMS
    public const int MaxTensorNameBytes = 64; // GGML_MAX_NAME, including the terminating zero
}
