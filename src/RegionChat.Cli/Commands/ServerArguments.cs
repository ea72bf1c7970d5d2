using System.CommandLine;
using RegionChat.Client;
using PbV1 = RegionChat.Protos.V1;

namespace RegionChat.Cli.Commands;

/// <summary>`--server URL` and `--api-key K` (or REGIONCHAT_SERVER / REGIONCHAT_API_KEY), shared by the client verbs,
/// which reach the server through <see cref="RegionChatClient"/>.</summary>
internal sealed class ServerArguments
{
    public const string DefaultServer = RegionChatClient.DefaultAddress;

    /// <summary>Images above this go up once (PutImage or a chunked UploadImage) and are then sent by id; below it, inline.</summary>
    const int InlineImageBytes = 1 << 20;
    const long MaxImageFileBytes = 256L << 20;

    public Option<string> Server { get; } = new("--server")
    {
        Description = $"Server address (h2c or TLS), e.g. http://127.0.0.1:50051. Default: $REGIONCHAT_SERVER or {DefaultServer}.",
        DefaultValueFactory = _ => Environment.GetEnvironmentVariable("REGIONCHAT_SERVER") is { Length: > 0 } s ? s : DefaultServer,
    };

    public Option<string?> ApiKey { get; } = new("--api-key") { Description = "API key sent as \"authorization: Bearer KEY\". Default: $REGIONCHAT_API_KEY." };

    public void AddTo(Command command)
    {
        command.Options.Add(Server);
        command.Options.Add(ApiKey);
    }

    public RegionChatClient Connect(ParseResult parse) =>
        Connect(parse.GetValue(Server)!, parse.GetValue(ApiKey) ?? Environment.GetEnvironmentVariable("REGIONCHAT_API_KEY"));

    /// <summary>A client of the server at <paramref name="address"/>; "host:port" without a scheme means h2c (http://).</summary>
    public static RegionChatClient Connect(string address, string? apiKey)
    {
        Uri uri;
        try { uri = RegionChatClient.ParseAddress(address); }
        catch (ArgumentException e) { throw new ArgumentException($"--server: {e.Message}", e); }
        return new RegionChatClient(uri, apiKey);
    }

    /// <summary>The image of a file as a request input: inline bytes, or for a large file an upload and its id.</summary>
    public static async Task<PbV1.ImageInput> ImageInputAsync(RegionChatClient client, string path, CancellationToken ct)
    {
        var info = new FileInfo(path);
        if (!info.Exists) throw new ArgumentException($"--image: file '{path}' not found");
        if (info.Length > MaxImageFileBytes) throw new ArgumentException($"--image: '{path}' is {info.Length:N0} bytes, more than {MaxImageFileBytes:N0}");
        byte[] bytes = await File.ReadAllBytesAsync(path, ct).ConfigureAwait(false);
        if (bytes.Length <= InlineImageBytes) return ChatImage.FromBytes(bytes).ToProto();
        var stored = await client.StoreImageAsync(bytes, ct).ConfigureAwait(false);
        return new PbV1.ImageInput { ImageId = stored.ImageId };
    }

    /// <summary>The one error line a failed call prints: status code and the server's message.</summary>
    public static string ErrorLine(RegionChatException e) =>
        $"error: {e.StatusCode}: {(string.IsNullOrEmpty(e.Detail) ? "(no message)" : e.Detail)}";
}
