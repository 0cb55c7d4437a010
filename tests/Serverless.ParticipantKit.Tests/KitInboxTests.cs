using Serverless.Core.Messaging;
using Serverless.Core.Protocol;
using Serverless.Testing;

namespace Serverless.ParticipantKit.Tests;

/// <summary>
/// The kit's inbox against real storage: a participant registered on its own (<c>AddParticipant(name, configuration, ...)</c>)
/// over a Table-storage resource manager, its replies and poison messages in Azurite's queues. Every test has an Azurite of
/// its own, since the protocol's queue names are fixed.
/// </summary>
public sealed class KitInboxTests : IAsyncLifetime
{
    private AzuriteInstance? _storage;
    private KitApp? _app;

    private KitApp App => _app ?? throw new InvalidOperationException("not started");

    public async Task InitializeAsync()
    {
        _storage = await AzuriteInstance.StartAsync();
        _app = await KitApp.StartAsync(_storage);
        await App.Bank.SetAsync("alice", 100);
        await App.Bank.SetAsync("bob", 0);
    }

    public async Task DisposeAsync()
    {
        if (_app is not null)
        {
            await _app.DisposeAsync();
        }

        if (_storage is not null)
        {
            await _storage.DisposeAsync();
        }
    }

    [Fact]
    public async Task AVerifiedPrepare_HoldsTheAmount_AndPutsAVoteSignedWithTheParticipantsOwnKey_InTheCoordinatorsInbox()
    {
        await App.ReceiveAsync(KitApp.Command(MessageKind.Prepare, "tx-1", 0, KitApp.Debit("alice", 30)));

        Assert.Equal((100, 30), await App.AccountAsync("alice"));
        var reply = Assert.Single(await App.CoordinatorInboxAsync());
        Assert.Equal(new ProtocolMessage(MessageKind.Vote, "tx-1") { Branch = 0, Participant = "demo", Vote = Vote.Yes }, reply.Message);
        Assert.Contains($"\"kid\":\"{KitApp.Coordinator.For("demo").KeyId}\"", reply.Text, StringComparison.Ordinal);
        Assert.False(KitApp.Coordinator.For("other").TryDecode(reply.Text, out _, out _), "another participant's key verifies demo's vote");

        await App.ReceiveAsync(KitApp.Command(MessageKind.Commit, "tx-1", 0, KitApp.Debit("alice", 30)));

        Assert.Equal((70, 0), await App.AccountAsync("alice"));
        var replies = await App.CoordinatorInboxAsync();
        Assert.Equal(2, replies.Count);
        Assert.Equal(new ProtocolMessage(MessageKind.Ack, "tx-1") { Branch = 0, Participant = "demo", Outcome = BranchOutcome.Committed }, replies[1].Message);
        Assert.Empty(await App.PoisonedAsync());
    }

    [Fact]
    public async Task ACommandDeliveredTwice_IsAnsweredAsTheFirstTime_AndTakesEffectOnce()
    {
        var prepare = KitApp.Command(MessageKind.Prepare, "tx-dup", 0, KitApp.Debit("alice", 30));
        var refused = KitApp.Command(MessageKind.Prepare, "tx-dup", 1, KitApp.Debit("alice", 1000));
        var commit = KitApp.Command(MessageKind.Commit, "tx-dup", 0, KitApp.Debit("alice", 30));

        await App.ReceiveAsync(prepare);
        await App.ReceiveAsync(prepare);
        await App.ReceiveAsync(refused);
        await App.ReceiveAsync(refused);
        Assert.Equal((100, 30), await App.AccountAsync("alice"));
        await App.ReceiveAsync(commit);
        await App.ReceiveAsync(commit);

        Assert.Equal((70, 0), await App.AccountAsync("alice"));
        var replies = await App.CoordinatorInboxAsync();
        Assert.Equal(6, replies.Count);
        Assert.All(replies, r => Assert.NotNull(r.Message));
        Assert.Equal(replies[0].Text, replies[1].Text);
        Assert.Equal(Vote.Yes, replies[0].Message!.Vote);
        Assert.Equal(replies[2].Text, replies[3].Text);
        Assert.Equal(new ProtocolMessage(MessageKind.Vote, "tx-dup") { Branch = 1, Participant = "demo", Vote = Vote.No, Reason = "insufficient funds in 'alice'" }, replies[2].Message);
        Assert.Equal(replies[4].Text, replies[5].Text);
        Assert.Equal(BranchOutcome.Committed, replies[4].Message!.Outcome);
        Assert.Empty(await App.PoisonedAsync());
    }

    [Fact]
    public async Task ARollbackBeforeItsPrepare_IsAcknowledged_AndThePrepareArrivingLaterVotesNoAndHoldsNothing()
    {
        await App.ReceiveAsync(KitApp.Command(MessageKind.Rollback, "tx-late", 0, KitApp.Debit("alice", 30)));
        await App.ReceiveAsync(KitApp.Command(MessageKind.Prepare, "tx-late", 0, KitApp.Debit("alice", 30)));

        Assert.Equal((100, 0), await App.AccountAsync("alice"));
        var replies = await App.CoordinatorInboxAsync();
        Assert.Equal(2, replies.Count);
        Assert.Equal(new ProtocolMessage(MessageKind.Ack, "tx-late") { Branch = 0, Participant = "demo", Outcome = BranchOutcome.RolledBack }, replies[0].Message);
        Assert.Equal(MessageKind.Vote, replies[1].Message!.Kind);
        Assert.Equal(Vote.No, replies[1].Message!.Vote);
        Assert.Equal("demo", replies[1].Message!.Participant);
        Assert.Empty(await App.PoisonedAsync());
    }

    [Theory]
    [InlineData("signed with another participant's key")]
    [InlineData("signed with the coordinator's own key")]
    [InlineData("unsigned")]
    [InlineData("addressed to another participant")]
    [InlineData("a reply, not a command")]
    public async Task AnUntrustedOrMisaddressedMessage_IsMovedToThePoisonQueue_AndChangesNothing(string what)
    {
        var operation = KitApp.Debit("alice", 30);
        var prepare = new ProtocolMessage(MessageKind.Prepare, "tx-bad") { Branch = 0, Participant = "demo", Operation = operation };
        var message = what switch
        {
            "signed with another participant's key" => KitApp.Coordinator.For("other").Encode(prepare),
            "signed with the coordinator's own key" => KitApp.CodecOf(KitApp.CoordinatorKey).Encode(prepare),
            "unsigned" => TestHost.WithoutSignature(prepare),
            "addressed to another participant" => KitApp.Coordinator.For("demo").Encode(prepare with { Participant = "other" }),
            "a reply, not a command" => KitApp.Coordinator.For("demo").Encode(new ProtocolMessage(MessageKind.Vote, "tx-bad") { Branch = 0, Participant = "demo", Vote = Vote.Yes }),
            _ => throw new ArgumentOutOfRangeException(nameof(what), what, null),
        };

        await App.ReceiveAsync(message);

        Assert.Equal([message], await App.PoisonedAsync());
        Assert.Empty(await App.CoordinatorInboxAsync());
        Assert.Equal((100, 0), await App.AccountAsync("alice"));

        // Nothing was recorded for the branch either: the coordinator's own prepare of it still reserves and votes Yes.
        await App.ReceiveAsync(KitApp.Command(MessageKind.Prepare, "tx-bad", 0, operation));
        Assert.Equal(Vote.Yes, Assert.Single(await App.CoordinatorInboxAsync()).Message!.Vote);
        Assert.Equal((100, 30), await App.AccountAsync("alice"));
    }

    [Fact]
    public async Task ACommandThatContradictsTheBranchsRecord_IsMovedToThePoisonQueue_AndChangesNothing()
    {
        await App.ReceiveAsync(KitApp.Command(MessageKind.Prepare, "tx-done", 0, KitApp.Credit("bob", 40)));
        await App.ReceiveAsync(KitApp.Command(MessageKind.Commit, "tx-done", 0, KitApp.Credit("bob", 40)));
        await App.ReceiveAsync(KitApp.Command(MessageKind.Rollback, "tx-gone", 0, KitApp.Debit("alice", 30)));
        var rollbackAfterCommit = KitApp.Command(MessageKind.Rollback, "tx-done", 0, KitApp.Credit("bob", 40));
        var commitAfterRollback = KitApp.Command(MessageKind.Commit, "tx-gone", 0, KitApp.Debit("alice", 30));

        await App.ReceiveAsync(rollbackAfterCommit);
        await App.ReceiveAsync(commitAfterRollback);

        Assert.Equal([rollbackAfterCommit, commitAfterRollback], await App.PoisonedAsync());
        Assert.Equal((40, 0), await App.AccountAsync("bob"));
        Assert.Equal((100, 0), await App.AccountAsync("alice"));
        var replies = (await App.CoordinatorInboxAsync()).Select(r => $"{r.Message!.Kind} {r.Message.TransactionId} {r.Message.Outcome?.ToString() ?? r.Message.Vote.ToString()}");
        Assert.Equal(["Vote tx-done Yes", "Ack tx-done Committed", "Ack tx-gone RolledBack"], replies);
    }

    [Fact]
    public async Task AMessageForAParticipantThisAppDoesNotRun_FailsSoThatItIsRetried_AndIsNeitherActedOnNorPoisoned()
    {
        var message = KitApp.Command(MessageKind.Prepare, "tx-else", 0, KitApp.Debit("alice", 30), addressee: "other");

        var failure = await Assert.ThrowsAsync<InvalidOperationException>(() => App.Inbox.ReceiveAsync("other", message));

        Assert.Contains("PARTICIPANT_{NAME}_SIGNING_KEY", failure.Message, StringComparison.Ordinal);
        Assert.Empty(await App.CoordinatorInboxAsync());
        Assert.Empty(await App.PoisonedAsync());
        Assert.Equal((100, 0), await App.AccountAsync("alice"));
    }
}
