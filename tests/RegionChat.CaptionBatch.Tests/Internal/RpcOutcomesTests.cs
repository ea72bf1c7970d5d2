using System.Text.RegularExpressions;
using Grpc.Core;
using RegionChat.CaptionBatch.Internal;

namespace RegionChat.CaptionBatch.Tests.Internal;

/// <summary>Which statuses the job retries, and how error records name them.</summary>
public class RpcOutcomesTests
{
    [Theory]
    [InlineData(StatusCode.Unavailable, true)]
    [InlineData(StatusCode.ResourceExhausted, true)]
    [InlineData(StatusCode.Internal, true)]
    [InlineData(StatusCode.DeadlineExceeded, true)]
    [InlineData(StatusCode.InvalidArgument, false)]
    [InlineData(StatusCode.NotFound, false)]
    [InlineData(StatusCode.FailedPrecondition, false)]
    [InlineData(StatusCode.Unauthenticated, false)]
    public void OnlyFailuresOfTheServerOrTheNetworkAreRetried(StatusCode code, bool transient) =>
        Assert.Equal(transient, RpcOutcomes.IsTransient(code));

    [Fact]
    public void AnImageTheServerDroppedIsUploadedAgainButAMissingSessionIsNot()
    {
        Assert.True(RpcOutcomes.IsImageGone(StatusCode.NotFound, "image sha256:00ff is not stored (evicted or never uploaded)"));
        Assert.False(RpcOutcomes.IsImageGone(StatusCode.NotFound, "session 's-1' is unknown"));
        Assert.False(RpcOutcomes.IsImageGone(StatusCode.InvalidArgument, "image sha256:00ff is not stored"));
        Assert.True(RpcOutcomes.IsRefused(StatusCode.Unauthenticated));
        Assert.True(RpcOutcomes.IsRefused(StatusCode.PermissionDenied));
        Assert.False(RpcOutcomes.IsRefused(StatusCode.Unavailable));
    }

    [Fact]
    public void ErrorRecordsNameTheStatusAsGoogleRpcCodeDoes()
    {
        // google.rpc.Code's names are the enum's words in upper snake case (InvalidArgument → INVALID_ARGUMENT).
        foreach (var code in Enum.GetValues<StatusCode>())
            Assert.Equal(Regex.Replace(code.ToString(), "(?<=[a-z])(?=[A-Z])", "_").ToUpperInvariant(), RpcOutcomes.Name(code));
        Assert.Equal("INVALID_ARGUMENT: request.region.box: outside", RpcOutcomes.Describe(StatusCode.InvalidArgument, "request.region.box: outside"));
        Assert.Equal("INTERNAL: (no message)", RpcOutcomes.Describe(StatusCode.Internal, ""));
    }
}
