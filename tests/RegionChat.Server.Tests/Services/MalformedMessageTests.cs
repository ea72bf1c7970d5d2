using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;
using Grpc.Net.Client.Web;
using PbV1 = RegionChat.Protos.V1;

namespace RegionChat.Server.Tests.Services;

/// <summary>
/// Request messages that do not parse (invalid UTF-8 in a string field, a message cut short) are INVALID_ARGUMENT naming
/// the field, over gRPC and gRPC-Web, for unary, server-streaming and client-streaming calls; never UNKNOWN
/// "Exception was thrown by handler.". The server keeps serving.
/// </summary>
public class MalformedMessageTests
{
    static readonly Marshaller<byte[]> Raw = new((byte[] b) => b, (byte[] b) => b);

    static Method<byte[], byte[]> RawMethod(MethodType type, string name) => new(type, "regionchat.v1.RegionChat", name, Raw, Raw);

    /// <summary>A string field <paramref name="number"/> holding <paramref name="bytes"/> as they are (no UTF-8 check).</summary>
    static byte[] StringField(int number, byte[] bytes)
    {
        using var buffer = new MemoryStream();
        var output = new CodedOutputStream(buffer);
        output.WriteTag(number, WireFormat.WireType.LengthDelimited);
        output.WriteBytes(ByteString.CopyFrom(bytes));
        output.Flush();
        return buffer.ToArray();
    }

    static byte[] Concat(params byte[][] parts) => parts.SelectMany(p => p).ToArray();

    static readonly byte[] InvalidUtf8 = [(byte)'h', (byte)'i', 0xFF, 0xFE, (byte)'!'];

    static int Field(Google.Protobuf.Reflection.MessageDescriptor message, string name) => message.FindFieldByName(name).FieldNumber;

    /// <summary>A Caption request whose instruction is not UTF-8 (the other fields valid).</summary>
    static byte[] CaptionWithBadInstruction() => Concat(
        new PbV1.CaptionRequest { Image = new() { Data = ByteString.CopyFrom(TestImages.Scene(41)) }, MaxTokens = 2 }.ToByteArray(),
        StringField(Field(PbV1.CaptionRequest.Descriptor, "instruction"), InvalidUtf8));

    /// <summary>A Chat request whose message.text is not UTF-8.</summary>
    static byte[] ChatWithBadText() => StringField(Field(PbV1.ChatRequest.Descriptor, "message"),
        StringField(Field(PbV1.UserMessage.Descriptor, "text"), InvalidUtf8));

    static byte[] TruncatedCaption()
    {
        var bytes = new PbV1.CaptionRequest { Image = new() { Data = ByteString.CopyFrom(TestImages.Scene(42)) }, Instruction = "what?" }.ToByteArray();
        return bytes[..(bytes.Length / 2)];
    }

    static void AssertInvalid(RpcException e, string field)
    {
        Assert.True(e.StatusCode == StatusCode.InvalidArgument, $"expected InvalidArgument, got {e.StatusCode} ({e.Status.Detail})");
        Calls.AssertCleanMessage(e.Status.Detail);
        var violations = Calls.Violations(e);
        Assert.True(violations.Any(v => v.Field == field),
            $"no violation of '{field}' in [{string.Join(", ", violations.Select(v => v.Field + ": " + v.Description))}] ({e.Status.Detail})");
    }

    static async Task<RpcException> UnaryFailsAsync(CallInvoker invoker, string method, byte[] payload) => await Calls.FailsAsync(async () =>
    {
        using var call = invoker.AsyncUnaryCall(RawMethod(MethodType.Unary, method), null, new CallOptions(deadline: Calls.Deadline()), payload);
        await call.ResponseAsync;
    });

    [Fact]
    public async Task InvalidUtf8AndTruncatedMessagesAreInvalidArgumentNamingTheField()
    {
        await using var host = await ServerHost.StartAsync();
        var invoker = host.Channel.CreateCallInvoker();

        AssertInvalid(await UnaryFailsAsync(invoker, "Caption", CaptionWithBadInstruction()), "instruction");
        var truncated = await UnaryFailsAsync(invoker, "Caption", TruncatedCaption());
        AssertInvalid(truncated, "image.data");
        Assert.Contains("ends", truncated.Status.Detail);

        var chat = await Calls.FailsAsync(async () =>
        {
            using var call = invoker.AsyncServerStreamingCall(RawMethod(MethodType.ServerStreaming, "Chat"), null,
                new CallOptions(deadline: Calls.Deadline()), ChatWithBadText());
            await foreach (var _ in call.ResponseStream.ReadAllAsync()) { }
        });
        AssertInvalid(chat, "message.text");

        // A CaptionStream item that does not parse ends the stream (its id cannot be read to answer it alone).
        var stream = await Calls.FailsAsync(async () =>
        {
            using var call = invoker.AsyncDuplexStreamingCall(RawMethod(MethodType.DuplexStreaming, "CaptionStream"), null,
                new CallOptions(deadline: Calls.Deadline()));
            await call.RequestStream.WriteAsync(StringField(Field(PbV1.CaptionStreamRequest.Descriptor, "id"), InvalidUtf8));
            await call.RequestStream.CompleteAsync();
            await foreach (var _ in call.ResponseStream.ReadAllAsync()) { }
        });
        AssertInvalid(stream, "id");

        // gRPC-Web reaches the same handlers.
        using var web = GrpcChannel.ForAddress(host.HttpAddress, new GrpcChannelOptions
        {
            HttpHandler = new GrpcWebHandler(GrpcWebMode.GrpcWeb, new HttpClientHandler()),
            HttpVersion = System.Net.HttpVersion.Version11,
            HttpVersionPolicy = HttpVersionPolicy.RequestVersionExact,
        });
        AssertInvalid(await UnaryFailsAsync(web.CreateCallInvoker(), "Caption", CaptionWithBadInstruction()), "instruction");

        // Still serving; the refusals are counted as InvalidArgument.
        var caption = await host.Client.CaptionAsync(new PbV1.CaptionRequest { Image = new() { Data = ByteString.CopyFrom(TestImages.Scene(41)) }, MaxTokens = 2 },
            deadline: Calls.Deadline());
        Assert.Equal("tiny", caption.Model);
        Assert.True(await Calls.EventuallyAsync(() => host.Admission.InFlight == 0));
    }
}
