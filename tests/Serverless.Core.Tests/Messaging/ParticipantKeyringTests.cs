using System.Security.Cryptography;
using System.Text;
using Serverless.Core.Messaging;
using Serverless.Core.Protocol;

namespace Serverless.Core.Tests.Messaging;

/// <summary>One key per participant: derived from the coordinator's, or configured; a reply verifies only with its sender's key.</summary>
public sealed class ParticipantKeyringTests
{
    private const string CoordinatorKey = "the coordinator's own key, 32 bytes or more";
    private const string PreviousCoordinatorKey = "the coordinator's previous key, 32 bytes or more";

    private static readonly ParticipantKeyring Coordinator = ParticipantKeyring.Derived(CoordinatorKey, [PreviousCoordinatorKey]);

    [Fact]
    public void DeriveKey_IsBase64UrlOfTheHmacOfTheLabelAndName_AsDocsParticipantsSays()
    {
        var expected = Convert.ToBase64String(HMACSHA256.HashData(Encoding.UTF8.GetBytes(CoordinatorKey), Encoding.UTF8.GetBytes("tx-participant:loyalty")))
            .TrimEnd('=').Replace('+', '-').Replace('/', '_');

        var key = ParticipantKeyring.DeriveKey(CoordinatorKey, "loyalty");

        Assert.Equal(expected, key);
        Assert.Equal(43, key.Length);
        Assert.True(Encoding.UTF8.GetByteCount(key) >= MessageCodec.MinimumKeyLength);
        Assert.NotEqual(key, ParticipantKeyring.DeriveKey(CoordinatorKey, "shipping"));
        Assert.NotEqual(key, ParticipantKeyring.DeriveKey(PreviousCoordinatorKey, "loyalty"));
    }

    [Fact]
    public void ACommandSignedForOneParticipant_DoesNotVerifyWithAnothersKey()
    {
        var command = new ProtocolMessage(MessageKind.Commit, "tx-1") { Branch = 0, Participant = "bank", Operation = "{}" };
        var text = Coordinator.For("bank").Encode(command);

        Assert.True(Coordinator.For("bank").TryDecode(text, out _, out _));
        Assert.False(Coordinator.For("inventory").TryDecode(text, out _, out var error));
        Assert.Contains("not accepted here", error, StringComparison.Ordinal);
    }

    [Fact]
    public void AParticipantsOwnKeyring_HoldsItsKeyOnly_AndVerifiesWhatTheCoordinatorSignsForIt()
    {
        var own = ParticipantKeyring.Of(name => name == "shipping" ? new ParticipantKeys(ParticipantKeyring.DeriveKey(CoordinatorKey, "shipping"), []) : null);
        var command = new ProtocolMessage(MessageKind.Prepare, "tx-1") { Branch = 0, Participant = "shipping", Operation = "{}" };

        Assert.True(own.Has("shipping"));
        Assert.False(own.Has("bank"));
        Assert.Throws<InvalidOperationException>(() => own.For("bank"));
        Assert.True(own.For("shipping").TryDecode(Coordinator.For("shipping").Encode(command), out var decoded, out _));
        Assert.Equal(command, decoded);
    }

    [Fact]
    public void TryDecodeFromParticipant_TakesAReplySignedByTheParticipantItNames()
    {
        var vote = new ProtocolMessage(MessageKind.Vote, "tx-1") { Branch = 1, Participant = "loyalty", Vote = Vote.Yes };

        Assert.True(Coordinator.TryDecodeFromParticipant(Coordinator.For("loyalty").Encode(vote), out var decoded, out var error), error);
        Assert.Equal(vote, decoded);
    }

    [Fact]
    public void TryDecodeFromParticipant_RefusesAReplyOneParticipantSignedInAnothersName()
    {
        // loyalty holds its own key only: a vote it signs claiming to be the bank's does not verify.
        var forged = new ProtocolMessage(MessageKind.Vote, "tx-1") { Branch = 0, Participant = "bank", Vote = Vote.No, Reason = "forged" };

        Assert.False(Coordinator.TryDecodeFromParticipant(Coordinator.For("loyalty").Encode(forged), out var decoded, out var error));
        Assert.Null(decoded);
        Assert.Contains("not accepted here", error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("")]
    [InlineData("not json")]
    [InlineData("{\"body\":{\"v\":1,\"kind\":\"Vote\",\"tx\":\"t\",\"branch\":0,\"vote\":\"Yes\"},\"kid\":\"00\",\"sig\":\"x\"}")]
    [InlineData("{\"body\":{\"participant\":\"NOT-A-NAME\"}}")]
    public void TryDecodeFromParticipant_RefusesWhatNamesNoParticipant_WithoutThrowing(string text)
    {
        Assert.False(Coordinator.TryDecodeFromParticipant(text, out var decoded, out var error));
        Assert.Null(decoded);
        Assert.False(string.IsNullOrEmpty(error));
    }

    [Fact]
    public void APreviousCoordinatorKey_StillVerifiesThePreviousParticipantKeys()
    {
        var old = ParticipantKeyring.Derived(PreviousCoordinatorKey);
        var reply = new ProtocolMessage(MessageKind.Ack, "tx-1") { Branch = 0, Participant = "shipping", Outcome = BranchOutcome.Committed };

        Assert.True(Coordinator.TryDecodeFromParticipant(old.For("shipping").Encode(reply), out _, out var error), error);
        Assert.False(ParticipantKeyring.Derived(CoordinatorKey).TryDecodeFromParticipant(old.For("shipping").Encode(reply), out _, out _));
    }

    [Fact]
    public void AConfiguredKey_ReplacesTheDerivedOne()
    {
        var configured = new ParticipantKeys("shipping's configured key, 32 bytes or more", []);
        var keyring = ParticipantKeyring.Derived(CoordinatorKey, null, name => name == "shipping" ? configured : null);

        Assert.Equal(MessageCodec.KeyIdOf(Encoding.UTF8.GetBytes(configured.Key)), keyring.For("shipping").KeyId);
        Assert.Equal(Coordinator.For("bank").KeyId, keyring.For("bank").KeyId);
    }
}
