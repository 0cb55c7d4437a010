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
    private static readonly byte[] Key = TestKeys.Key;
    private static readonly MessageCodec Signed = TestKeys.Codec;

    public static TheoryData<MessageKind> Kinds => MessageCodecTests.Kinds;

    /// <summary>Every field that says what a command is and where it goes, with a value that re-targets it.</summary>
    public static TheoryData<string, string> TargetFields => new()
    {
        { "kind", "\"Rollback\"" },
        { "tx", "\"another-transaction\"" },
        { "branch", "7" },
        { "participant", "\"inventory\"" },
        { "operation", "{\"type\":\"debit\",\"account\":\"mallory\",\"amount\":30}" },
    };

    [Theory]
    [MemberData(nameof(Kinds))]
    public void Decode_OfASignedMessageWithTheSameKey_GivesTheSameMessageBack(MessageKind kind)
    {
        var message = MessageCodecTests.Sample(kind);

        var text = Signed.Encode(message);

        Assert.Contains("\"sig\":", text, StringComparison.Ordinal);
        Assert.Contains($"\"kid\":\"{MessageCodec.KeyIdOf(Key)}\"", text, StringComparison.Ordinal);
        Assert.True(new MessageCodec([.. Key]).TryDecode(text, out var decoded, out var error), error);
        Assert.Equal(message, decoded);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(MessageCodec.MinimumKeyLength - 1)]
    public void Constructor_WithAKeyShorterThanThirtyTwoBytes_Throws(int length)
    {
        var error = Assert.Throws<ArgumentException>(() => new MessageCodec(new byte[length]));
        Assert.Contains("at least 32 bytes", error.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => new MessageCodec(Key, [new byte[length]]));
        Assert.Throws<ArgumentNullException>(() => new MessageCodec(null!));
    }

    [Fact]
    public void KeyId_IsTheSameForTheSameKeyAndRevealsNothingOfIt()
    {
        var id = MessageCodec.KeyIdOf(Key);

        Assert.Equal(id, MessageCodec.KeyIdOf([.. Key]));
        Assert.NotEqual(id, MessageCodec.KeyIdOf(TestKeys.OtherKey));
        Assert.Matches("^[0-9a-f]{16}$", id);
        Assert.DoesNotContain(Convert.ToHexStringLower(Key[..8]), id, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void Decode_OfAnUnsignedMessage_IsRejected(MessageKind kind)
    {
        var root = JsonNode.Parse(Signed.Encode(MessageCodecTests.Sample(kind)))!;
        root.AsObject().Remove("sig");
        root.AsObject().Remove("kid");

        AssertRejected(root.ToJsonString(), "unsigned message");
    }

    [Fact]
    public void Decode_OfASignatureWithoutItsKeyId_IsRejected()
    {
        var root = JsonNode.Parse(Signed.Encode(MessageCodecTests.Sample(MessageKind.Commit)))!;
        root.AsObject().Remove("kid");

        AssertRejected(root.ToJsonString(), "missing key id");
    }

    [Fact]
    public void Decode_OfAMessageSignedWithAnotherKey_IsRejectedAsSignedWithAKeyNotAccepted()
    {
        var other = new MessageCodec(Encoding.UTF8.GetBytes("a shared secret of the coordinatoR"));

        AssertRejected(other.Encode(MessageCodecTests.Sample(MessageKind.Commit)), "not accepted");
    }

    [Fact]
    public void Decode_OfAnotherKeysSignatureUnderOurKeyId_IsRejectedAsInvalid()
    {
        var other = new MessageCodec(TestKeys.OtherKey);
        var root = JsonNode.Parse(other.Encode(MessageCodecTests.Sample(MessageKind.Commit)))!;
        root["kid"] = Signed.KeyId;

        AssertRejected(root.ToJsonString(), "invalid signature");
    }

    [Fact]
    public void Decode_OfASignedMessageWhoseBodyWasChanged_IsRejected()
    {
        var text = Signed.Encode(MessageCodecTests.Sample(MessageKind.Rollback));
        var root = JsonNode.Parse(text)!;
        root["body"]!["kind"] = "Commit";

        AssertForged(root.ToJsonString());
    }

    [Theory]
    [MemberData(nameof(TargetFields))]
    public void Decode_OfASignedCommandRetargetedToAnotherKindTransactionBranchParticipantOrOperation_IsRejected(string field, string value)
    {
        foreach (var kind in new[] { MessageKind.Prepare, MessageKind.Commit, MessageKind.Rollback })
        {
            var root = JsonNode.Parse(Signed.Encode(MessageCodecTests.Sample(kind)))!;
            if (root["body"]![field]!.ToJsonString() == value)
            {
                continue;
            }

            root["body"]![field] = JsonNode.Parse(value);
            Assert.True(Signed.TryDecode(TestKeys.Resign(root), out _, out var error), error);

            AssertForged(root.ToJsonString());
        }
    }

    [Fact]
    public void Decode_OfASignedMessageWithAnyOneCharacterOfItsBodyChanged_IsRejected()
    {
        var text = Signed.Encode(MessageCodecTests.Sample(MessageKind.Prepare));
        var bodyStart = "{\"body\":".Length;
        var bodyEnd = text.IndexOf(",\"kid\":", StringComparison.Ordinal);
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
    public void Rotation_WalkedThroughWithMessagesInFlight_NeverRejectsAMessageSignedWithAnAcceptedKey()
    {
        var oldKey = TestKeys.Key;
        var newKey = TestKeys.OtherKey;
        var message = MessageCodecTests.Sample(MessageKind.Commit);

        // 0. Everyone on the old key; a message is in flight.
        var before = new MessageCodec(oldKey);
        var inFlight0 = before.Encode(message);

        // 1. The new key is added as accepted everywhere (not yet used to sign).
        var accepting = new MessageCodec(oldKey, [newKey]);
        var inFlight1 = accepting.Encode(message);
        Assert.Equal(MessageCodec.KeyIdOf(oldKey), accepting.KeyId);

        // 2. The new key becomes current, the old one previous: a process already switched and one not yet switched
        //    read each other's messages.
        var switched = new MessageCodec(newKey, [oldKey]);
        var inFlight2 = switched.Encode(message);
        Assert.Contains(MessageCodec.KeyIdOf(newKey), inFlight2, StringComparison.Ordinal);
        foreach (var reader in new[] { accepting, switched })
        {
            foreach (var text in new[] { inFlight0, inFlight1, inFlight2 })
            {
                Assert.True(reader.TryDecode(text, out var decoded, out var error), error);
                Assert.Equal(message, decoded);
            }
        }

        // 3. The old key is retired: what the new key signs is accepted, what the old one signed is refused, saying why.
        var retired = new MessageCodec(newKey);
        Assert.True(retired.TryDecode(inFlight2, out _, out var newError), newError);
        Assert.False(retired.TryDecode(inFlight0, out var stale, out var oldError));
        Assert.Null(stale);
        Assert.Contains("retired", oldError, StringComparison.Ordinal);
    }

    [Fact]
    public void AcceptedKeyIds_AreTheCurrentAndThePreviousKeysOnce()
    {
        var codec = new MessageCodec(Key, [TestKeys.OtherKey, TestKeys.OtherKey, Key]);

        Assert.Equal(
            new[] { MessageCodec.KeyIdOf(Key), MessageCodec.KeyIdOf(TestKeys.OtherKey) }.Order(),
            codec.AcceptedKeyIds.Order());
    }

    [Property(MaxTest = 300)]
    public Property Decode_OfArbitraryText_NeverThrowsAndNeverAccepts() =>
        Prop.ForAll(ArbMap.Default.ArbFor<string>(), text =>
        {
            Assert.False(Signed.TryDecode(text, out var message, out var error));
            Assert.Null(message);
            Assert.NotNull(error);
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

    private static void AssertForged(string text) => AssertRejected(text, "invalid signature");

    private static void AssertRejected(string text, string errorFragment)
    {
        Assert.False(Signed.TryDecode(text, out var message, out var error), $"accepted: {text}");
        Assert.Null(message);
        Assert.Contains(errorFragment, error, StringComparison.Ordinal);
    }
}
