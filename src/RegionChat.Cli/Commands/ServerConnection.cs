using System.CommandLine;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;
using RegionChat.Protos;
using PbV1 = RegionChat.Protos.V1;

namespace RegionChat.Cli.Commands;

/// <summary>`--server URL` and `--api-key K` (or REGIONCHAT_SERVER / REGIONCHAT_API_KEY), shared by the client verbs.</summary>
internal sealed class ServerArguments
{
    public const string DefaultServer = "http://127.0.0.1:50051";

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

    public ServerConnection Connect(ParseResult parse) =>
        ServerConnection.Open(parse.GetValue(Server)!, parse.GetValue(ApiKey) ?? Environment.GetEnvironmentVariable("REGIONCHAT_API_KEY"));
}

/// <summary>A gRPC channel to a RegionChat server, with the API key header on every call.</summary>
internal sealed class ServerConnection : IDisposable
{
    /// <summary>Images above this go up as a chunked UploadImage stream, then by id (below it: inline bytes).</summary>
    const int InlineImageBytes = 1 << 20, UploadChunkBytes = 256 << 10;
    const long MaxImageFileBytes = 256L << 20;

    readonly GrpcChannel channel;
    readonly Metadata headers = [];

    ServerConnection(GrpcChannel channel, string? apiKey)
    {
        this.channel = channel;
        if (!string.IsNullOrEmpty(apiKey)) headers.Add("authorization", "Bearer " + apiKey);
        Client = new PbV1.RegionChat.RegionChatClient(channel);
    }

    public PbV1.RegionChat.RegionChatClient Client { get; }

    /// <summary>Opens a channel; "host:port" without a scheme means h2c (http://).</summary>
    public static ServerConnection Open(string address, string? apiKey)
    {
        if (!address.Contains("://", StringComparison.Ordinal)) address = "http://" + address;
        if (!Uri.TryCreate(address, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
            throw new ArgumentException($"--server: '{address}' is not an http:// or https:// address");
        var channel = GrpcChannel.ForAddress(uri, new GrpcChannelOptions { MaxReceiveMessageSize = 64 << 20, MaxSendMessageSize = 64 << 20 });
        return new ServerConnection(channel, apiKey);
    }

    public CallOptions Call(CancellationToken ct) => new(headers, cancellationToken: ct);

    /// <summary>The image of a file as a request input: inline bytes, or for a large file an upload and its id.</summary>
    public async Task<PbV1.ImageInput> ImageInputAsync(string path, CancellationToken ct)
    {
        var info = new FileInfo(path);
        if (!info.Exists) throw new ArgumentException($"--image: file '{path}' not found");
        if (info.Length > MaxImageFileBytes) throw new ArgumentException($"--image: '{path}' is {info.Length:N0} bytes, more than {MaxImageFileBytes:N0}");
        byte[] bytes = await File.ReadAllBytesAsync(path, ct).ConfigureAwait(false);
        if (bytes.Length <= InlineImageBytes) return new PbV1.ImageInput { Data = ByteString.CopyFrom(bytes) };
        using var upload = Client.UploadImage(Call(ct));
        for (int offset = 0; offset < bytes.Length; offset += UploadChunkBytes)
            await upload.WriteAsync(new PbV1.ImageChunk { Data = ByteString.CopyFrom(bytes, offset, Math.Min(UploadChunkBytes, bytes.Length - offset)) }, ct).ConfigureAwait(false);
        await upload.RequestStream.CompleteAsync().ConfigureAwait(false);
        var stored = await upload.ResponseAsync.ConfigureAwait(false);
        return new PbV1.ImageInput { ImageId = stored.ImageId };
    }

    /// <summary>The one error line a failed call prints: status code and the server's message.</summary>
    public static string ErrorLine(RpcException e) =>
        $"error: {e.StatusCode}: {(string.IsNullOrEmpty(e.Status.Detail) ? "(no message)" : e.Status.Detail)}";

    public void Dispose() => channel.Dispose();
}
