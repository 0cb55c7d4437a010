using System.Text;
using System.Text.Json.Nodes;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Serverless.Core.Messaging;
using Serverless.Core.Protocol;

namespace Serverless.Core.Tests.Messaging;

public sealed class MessageSigningTests
{
    private static readonly byte[] Key = Encoding.UTF8.GetBytes("a shared secret of the coordinator");
    private static readonly MessageCodec Signed = new(Key);
    private static readonly MessageCodec Unsigned = new();

    public static TheoryData<MessageKind> Kinds => MessageCodecTests.Kinds;

    [Theory]
    [MemberData(nameof(Kinds))]
    public void Decode_OfASignedMessageWithTheSameKey_GivesTheSameMessageBack(MessageKind kind)
    {
        var message = MessageCodecTests.Sample(kind);

        var text = Signed.Encode(message);

        Assert.Contains("\"sig\":", text, StringComparison.Ordinal);
        Assert.True(new MessageCodec([.. Key]).TryDecode(text, out var decoded, out var error), error);
        Assert.Equal(message, decoded);
    }

    [Fact]
    public void RequiresSignature_IsTrueOnlyWithANonEmptyKey()
    {
        Assert.True(Signed.RequiresSignature);
        Assert.False(Unsigned.RequiresSignature);
        Assert.False(new MessageCodec([]).RequiresSignature);
        Assert.DoesNotContain("sig", new MessageCodec([]).Encode(MessageCodecTests.Sample(MessageKind.Ack)), StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void Decode_OfAnUnsignedMessageWhenAKeyIsSet_IsRejected(MessageKind kind)
    {
        AssertForged(Unsigned.Encode(MessageCodecTests.Sample(kind)));
    }

    [Fact]
    public void Decode_OfAMessageSignedWithAnotherKey_IsRejected()
    {
        var other = new MessageCodec(Encoding.UTF8.GetBytes("a shared secret of the coordinatoR"));

        AssertForged(other.Encode(MessageCodecTests.Sample(MessageKind.Commit)));
    }

    [Fact]
    public void Decode_OfASignedMessageWhoseBodyWasChanged_IsRejected()
    {
        var text = Signed.Encode(MessageCodecTests.Sample(MessageKind.Rollback));
        var root = JsonNode.Parse(text)!;
        root["body"]!["kind"] = "Commit";

        AssertForged(root.ToJsonString());
    }

    [Fact]
    public void Decode_OfASignedMessageWithAnyOneCharacterOfItsBodyChanged_IsRejected()
    {
        var text = Signed.Encode(MessageCodecTests.Sample(MessageKind.Prepare));
        var bodyStart = "{\"body\":".Length;
        var bodyEnd = text.IndexOf(",\"sig\":", StringComparison.Ordinal);
        Assert.True(bodyEnd > bodyStart);

        for (var i = bodyStart; i < bodyEnd; i++)
        {
            foreach (var replacement in new[] { ' ', '1', 'a' })
            {
                if (text[i] != replacement)
                {
                    var tampered = string.Concat(text.AsSpan(0, i), replacement.ToString(), text.AsSpan(i + 1));
                    Assert.False(Signed.TryDecode(tampered, out _, out _), $"accepted after changing index {i} to '{replacement}': {tampered}");
                }
            }
        }
    }

    [Fact]
    public void Decode_OfASignedMessageReformatted_IsRejectedBecauseTheSignatureCoversTheExactText()
    {
        var text = Signed.Encode(MessageCodecTests.Sample(MessageKind.Vote)).Replace("\"tx\":", "\"tx\" :", StringComparison.Ordinal);

        AssertForged(text);
    }

    [Theory]
    [InlineData("null")]
    [InlineData("42")]
    [InlineData("\"\"")]
    [InlineData("\"not base64!\"")]
    [InlineData("\"AAAA\"")]
    [InlineData("\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"")]
    public void Decode_WithASignatureThatIsNotThirtyTwoBase64Bytes_IsRejected(string sig)
    {
        var root = JsonNode.Parse(Signed.Encode(MessageCodecTests.Sample(MessageKind.Ack)))!;
        root["sig"] = JsonNode.Parse(sig);

        AssertForged(root.ToJsonString());
    }

    [Fact]
    public void Decode_OfASignedMessageWithoutAKey_AcceptsItWithoutChecking()
    {
        var message = MessageCodecTests.Sample(MessageKind.Inquiry);

        Assert.True(Unsigned.TryDecode(Signed.Encode(message), out var decoded, out _));
        Assert.Equal(message, decoded);
    }

    [Property(MaxTest = 300)]
    public Property Decode_OfArbitraryText_NeverThrowsAndNeverAcceptsWithoutASignature() =>
        Prop.ForAll(ArbMap.Default.ArbFor<string>(), text =>
        {
            Assert.False(Signed.TryDecode(text, out var message, out var error));
            Assert.Null(message);
            Assert.NotNull(error);
            Unsigned.TryDecode(text, out _, out _);
        });

    [Property(MaxTest = 300)]
    public Property Decode_OfSignedVotes_GivesTheSameVoteBackForAnyReason() =>
        Prop.ForAll(Reasons().ToArbitrary(), Gen.Choose(0, Identifiers.MaxBranches - 1).ToArbitrary(), (reason, branch) =>
        {
            var message = new ProtocolMessage(MessageKind.Vote, "tx-42") { Branch = branch, Vote = Vote.No, Reason = reason };

            Assert.True(Signed.TryDecode(Signed.Encode(message), out var decoded, out var error), error);
            Assert.Equal(message, decoded);
        });

    private static Gen<string> Reasons() =>
        Gen.Elements('a', 'Z', '0', ' ', '"', '\\', '/', '\n', '\t', '\u0000', '\u001f', 'é', '漢', '\u2028', '<', '&', '\'')
            .ArrayOf()
            .Select(chars => new string(chars) + "😀");

    private static void AssertForged(string text)
    {
        Assert.False(Signed.TryDecode(text, out var message, out var error), $"accepted: {text}");
        Assert.Null(message);
        Assert.Equal("missing or invalid signature", error);
    }
}
