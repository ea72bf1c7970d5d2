using System.Buffers;
using System.Text.Unicode;
using Google.Protobuf;
using Google.Protobuf.Reflection;
using Grpc.Core;
using RegionChat.Inference;

namespace RegionChat.Server.Services.Internal;

/// <summary>
/// How the service's request messages are parsed (the generated service base's marshallers call <see cref="Parse"/>;
/// see RegionChat.Server.csproj). A message that does not parse (a string field that is not UTF-8, a message cut short,
/// a corrupt tag) is INVALID_ARGUMENT naming the field, found by walking the wire format; grpc-dotnet would answer
/// UNKNOWN "Exception was thrown by handler." for any exception of the deserializer but an RpcException.
/// </summary>
internal static class RequestParsing
{
    /// <summary>Google.Protobuf's default recursion limit: deeper messages do not parse.</summary>
    const int MaxDepth = 100;

    public static T Parse<T>(DeserializationContext context, MessageParser<T> parser) where T : IMessage<T>
    {
        var payload = context.PayloadAsReadOnlySequence();
        try { return parser.ParseFrom(payload); }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            var descriptor = parser.ParseFrom(ByteString.Empty).Descriptor;
            var (field, problem) = Find(payload.ToArray(), descriptor, "", 0)
                ?? ("request", $"is not a valid {descriptor.Name} message ({e.Message.TrimEnd('.')})");
            throw RpcErrors.From(RegionChatCoreException.InvalidArgument(field, problem, e));
        }
    }

    const string Truncated = "ends in the middle of this field: the request message is truncated or corrupt";

    /// <summary>The first field (a path like "message.region.union.regions[1].box") that breaks the message, and why;
    /// null when the wire format holds together.</summary>
    static (string Field, string Problem)? Find(ReadOnlySpan<byte> data, MessageDescriptor message, string prefix, int depth)
    {
        if (depth > MaxDepth) return (prefix.Length > 0 ? prefix.TrimEnd('.') : "request", $"nests messages more than {MaxDepth} levels deep");
        var repeats = new Dictionary<int, int>();
        int pos = 0;
        while (pos < data.Length)
        {
            string here = prefix.Length > 0 ? prefix.TrimEnd('.') : "request";
            if (!TryVarint(data, ref pos, out ulong tag)) return (here, "ends in the middle of a field tag: the request message is truncated or corrupt");
            int number = (int)Math.Min(tag >> 3, int.MaxValue);
            var wire = (WireFormat.WireType)(tag & 7);
            if (number == 0) return (here, "holds a field number 0: the request message is corrupt");
            var field = message.FindFieldByNumber(number);
            string path = prefix + (field?.Name ?? $"field {number}");
            if (field is { IsRepeated: true })
            {
                repeats.TryGetValue(number, out int index);
                // Packed scalars are one length-delimited run, not indexed.
                if (wire != WireFormat.WireType.LengthDelimited || field.FieldType is FieldType.String or FieldType.Bytes or FieldType.Message)
                {
                    path += $"[{index}]";
                    repeats[number] = index + 1;
                }
            }
            switch (wire)
            {
                case WireFormat.WireType.Varint:
                    if (!TryVarint(data, ref pos, out _)) return (path, Truncated);
                    break;
                case WireFormat.WireType.Fixed64:
                case WireFormat.WireType.Fixed32:
                    pos += wire == WireFormat.WireType.Fixed64 ? 8 : 4;
                    if (pos > data.Length) return (path, Truncated);
                    break;
                case WireFormat.WireType.LengthDelimited:
                    if (!TryVarint(data, ref pos, out ulong length)) return (path, Truncated);
                    int available = data.Length - pos;
                    var content = data.Slice(pos, (int)Math.Min(length, (ulong)available));
                    if (field?.FieldType == FieldType.Message && Find(content, field.MessageType, path + ".", depth + 1) is { } inner) return inner;
                    if (length > (ulong)available) return (path, Truncated);
                    if (field?.FieldType == FieldType.String && !Utf8.IsValid(content))
                        return (path, "is not valid UTF-8 text (protobuf strings must be UTF-8)");
                    pos += content.Length;
                    break;
                default:
                    return (path, $"has wire type {(int)wire}, which this API does not use: the request message is corrupt");
            }
        }
        return null;
    }

    static bool TryVarint(ReadOnlySpan<byte> data, ref int pos, out ulong value)
    {
        value = 0;
        for (int shift = 0; shift < 64 && pos < data.Length; shift += 7)
        {
            byte b = data[pos++];
            value |= (ulong)(b & 0x7F) << shift;
            if (b < 0x80) return true;
        }
        return false;
    }
}
