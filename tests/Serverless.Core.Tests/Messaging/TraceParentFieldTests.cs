using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Serverless.Core.Messaging;

namespace Serverless.Core.Tests.Messaging;

/// <summary>The optional <c>traceParent</c> field: a command carries its sender's W3C trace context, signed like the rest.</summary>
public sealed class TraceParentFieldTests
{
    private const string TraceParent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    private static readonly byte[] Key = Encoding.UTF8.GetBytes("a shared secret of the coordinator");
    private static readonly MessageCodec Signed = new(Key);

    [Fact]
    public void Decode_OfACommandWithATraceParent_GivesItBack()
    {
        var message = MessageCodecTests.Sample(MessageKind.Commit) with { TraceParent = TraceParent };

        var text = Signed.Encode(message);

        Assert.Contains($"\"traceParent\":\"{TraceParent}\"", text, StringComparison.Ordinal);
        Assert.True(Signed.TryDecode(text, out var decoded, out var error), error);
        Assert.Equal(message, decoded);
    }

    [Fact]
    public void Decode_OfAMessageWithoutATraceParent_GivesNull()
    {
        Assert.True(Signed.TryDecode(Signed.Encode(MessageCodecTests.Sample(MessageKind.Prepare)), out var decoded, out _));
        Assert.Null(decoded!.TraceParent);
    }

    [Fact]
    public void Decode_OfASignedCommandWhoseTraceParentWasChanged_IsRejectedAsForged()
    {
        var root = JsonNode.Parse(Signed.Encode(MessageCodecTests.Sample(MessageKind.Commit) with { TraceParent = TraceParent }))!;
        root["body"]!["traceParent"] = TraceParent.Replace("b7ad", "c7ad", StringComparison.Ordinal);

        Assert.False(Signed.TryDecode(root.ToJsonString(), out _, out var error));
        Assert.Contains("invalid signature", error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("\"\"")]
    [InlineData("\"01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\"")]
    [InlineData("\"00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01\"")]
    [InlineData("\"00-00000000000000000000000000000000-b7ad6b7169203331-01\"")]
    [InlineData("\"00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01\"")]
    [InlineData("\"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-1\"")]
    [InlineData("\"00-0af7651916cd43dd8448eb211c80319c_b7ad6b7169203331-01\"")]
    [InlineData("42")]
    [InlineData("null")]
    public void Decode_OfAnInvalidTraceParent_IsRejectedEvenWhenSigned(string value)
    {
        var body = JsonNode.Parse(Signed.Encode(MessageCodecTests.Sample(MessageKind.Commit)))!["body"]!.DeepClone();
        body["traceParent"] = JsonNode.Parse(value);
        var text = body.ToJsonString();
        var signed = TestKeys.Sign(text, Key);

        Assert.False(Signed.TryDecode(signed, out var message, out var error), $"accepted: {signed}");
        Assert.Null(message);
        Assert.Contains("invalid traceParent", error, StringComparison.Ordinal);
    }
}
