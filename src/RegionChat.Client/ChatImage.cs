using Google.Protobuf;
using PbV1 = RegionChat.Protos.V1;

namespace RegionChat.Client;

/// <summary>An image for a request: its encoded bytes (PNG, JPEG, WebP, BMP or GIF), or the content id of one stored
/// with <see cref="RegionChatClient.PutImageAsync"/> / <see cref="RegionChatClient.UploadImageAsync"/> (send a picture
/// once, ask about many regions of it).</summary>
public sealed class ChatImage
{
    readonly ReadOnlyMemory<byte> bytes;

    ChatImage(ReadOnlyMemory<byte> bytes, string? id) => (this.bytes, Id) = (bytes, id);

    /// <summary>The content id, or null for an image sent as bytes.</summary>
    public string? Id { get; }

    /// <summary>The encoded bytes (empty for an image given by id).</summary>
    public ReadOnlyMemory<byte> Bytes => bytes;

    /// <summary>An image sent inline as its encoded bytes; throws <see cref="ArgumentException"/> when they are empty.</summary>
    public static ChatImage FromBytes(ReadOnlyMemory<byte> encoded)
    {
        if (encoded.IsEmpty) throw new ArgumentException("an image needs its encoded bytes", nameof(encoded));
        return new ChatImage(encoded, null);
    }

    /// <summary>An image file's bytes, sent inline.</summary>
    public static ChatImage FromFile(string path) => FromBytes(File.ReadAllBytes(path));

    /// <summary>An image stored on the server ("sha256:…" content id).</summary>
    public static ChatImage FromId(string imageId)
    {
        if (string.IsNullOrWhiteSpace(imageId)) throw new ArgumentException("an image id must not be empty", nameof(imageId));
        return new ChatImage(default, imageId);
    }

    /// <summary>An image sent inline as its encoded bytes (<see cref="FromBytes"/>).</summary>
    public static implicit operator ChatImage(byte[] encoded) => FromBytes(encoded);
    /// <summary>An image stored on the server, by the id PutImage / UploadImage returned (<see cref="FromId"/>).</summary>
    public static implicit operator ChatImage(PbV1.ImageRef stored) => FromId(stored.ImageId);

    /// <summary>The proto form the gRPC API takes.</summary>
    public PbV1.ImageInput ToProto() =>
        Id != null ? new PbV1.ImageInput { ImageId = Id } : new PbV1.ImageInput { Data = ByteString.CopyFrom(bytes.Span) };

    /// <inheritdoc/>
    public override string ToString() => Id ?? $"image ({bytes.Length} bytes)";
}
