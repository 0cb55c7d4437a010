using System.Diagnostics;
using Serverless.Core.Participants;
using Serverless.Core.Protocol;
using Serverless.Testing;

namespace Serverless.Participants.MySql.Tests;

/// <summary>The XA resource manager with the ledger's handler, against a real server: votes, phase 2, duplicates, I6, locks.</summary>
public sealed class ResourceManagerTests(MariaDbServer server) : LedgerTest(server)
{
    [Fact]
    public async Task Prepare_OfADebit_VotesYes_HoldsAPreparedXaBranch_AndCommitAppliesIt()
    {
        var account = await AccountAsync(100);
        var branch = NewBranch();

        var vote = await Manager.PrepareAsync(branch, Debit(account, 30));

        Assert.Equal(Vote.Yes, vote.Vote);
        Assert.Equal([$"{XaId.FormatId}:{branch.TransactionId}:{Participant}:0"], await PreparedAsync());
        Assert.Equal(BranchPhase.Prepared, (await Manager.GetBranchAsync(branch))?.Phase);
        Assert.Equal(100, await Ledger.GetBalanceAsync(account));

        await Manager.CommitAsync(branch, "{}");

        Assert.Empty(await PreparedAsync());
        Assert.Equal(70, await Ledger.GetBalanceAsync(account));
        Assert.Equal(1, await EntriesAsync(branch));
        Assert.Equal(new BranchRecord(BranchPhase.Committed, Vote.Yes), await Manager.GetBranchAsync(branch));
    }

    [Fact]
    public async Task Rollback_OfAPreparedBranch_LeavesTheBalanceAndNoEntry()
    {
        var account = await AccountAsync(100);
        var branch = NewBranch();
        Assert.Equal(Vote.Yes, (await Manager.PrepareAsync(branch, Credit(account, 25))).Vote);

        await Manager.RollbackAsync(branch, "{}");

        Assert.Empty(await PreparedAsync());
        Assert.Equal(100, await Ledger.GetBalanceAsync(account));
        Assert.Equal(0, await EntriesAsync(branch));
        Assert.Equal(new BranchRecord(BranchPhase.RolledBack, Vote.Yes), await Manager.GetBranchAsync(branch));
    }

    [Fact]
    public async Task Prepare_WhenFundsAreShort_VotesNo_AndLeavesNothingPrepared()
    {
        var account = await AccountAsync(10);
        var branch = NewBranch();

        var vote = await Manager.PrepareAsync(branch, Debit(account, 11));

        Assert.Equal(PrepareResult.No($"insufficient funds in '{account}'"), vote);
        Assert.Empty(await PreparedAsync());
        Assert.Equal(10, await Ledger.GetBalanceAsync(account));
        Assert.Equal(0, await EntriesAsync(branch));
        Assert.Equal(BranchPhase.Refused, (await Manager.GetBranchAsync(branch))?.Phase);

        // The coordinator's rollback for a No is a no-op; a commit contradicts the record.
        await Manager.RollbackAsync(branch, "{}");
        await Assert.ThrowsAsync<ProtocolViolationException>(() => Manager.CommitAsync(branch, "{}"));
    }

    [Theory]
    [InlineData("{\"type\":\"debit\",\"account\":\"nobody-here\",\"amount\":5}", "account 'nobody-here' does not exist")]
    [InlineData("{\"type\":\"credit\",\"account\":\"nobody-here\",\"amount\":5}", "account 'nobody-here' does not exist")]
    [InlineData("{\"type\":\"steal\",\"account\":\"a\",\"amount\":5}", "invalid operation: 'type' must be \"debit\" or \"credit\"")]
    [InlineData("{\"type\":\"debit\",\"account\":\"a\",\"amount\":0}", "invalid operation: 'amount' must be a positive whole number up to 10^15")]
    [InlineData("not json", null)]
    public async Task Prepare_OfABadOrUnknownOperation_VotesNo(string operation, string? reason)
    {
        var branch = NewBranch();

        var vote = await Manager.PrepareAsync(branch, operation);

        Assert.Equal(Vote.No, vote.Vote);
        if (reason is not null)
        {
            Assert.Equal(reason, vote.Reason);
        }

        Assert.Empty(await PreparedAsync());
    }

    [Fact]
    public async Task DuplicatePrepares_AnswerTheFirstVote_WithoutPreparingOrApplyingTwice()
    {
        var account = await AccountAsync(100);
        var (yes, no) = (NewBranch(), NewBranch(1));

        Assert.Equal(Vote.Yes, (await Manager.PrepareAsync(yes, Debit(account, 60))).Vote);
        Assert.Equal(Vote.Yes, (await Manager.PrepareAsync(yes, Debit(account, 60))).Vote);
        Assert.Single(await PreparedAsync());

        // Another manager over the same database (another process) answers the same.
        var other = new LedgerParticipant(ConnectionString, Participant, Options).ResourceManager;
        Assert.Equal(Vote.Yes, (await other.PrepareAsync(yes, Debit(account, 60))).Vote);

        await Manager.CommitAsync(yes, "{}");
        await Manager.CommitAsync(yes, "{}");
        await other.CommitAsync(yes, "{}");
        Assert.Equal(Vote.Yes, (await Manager.PrepareAsync(yes, Debit(account, 60))).Vote);
        Assert.Equal(40, await Ledger.GetBalanceAsync(account));
        Assert.Equal(1, await EntriesAsync(yes));

        var first = await Manager.PrepareAsync(no, Debit(account, 50));
        Assert.Equal(first, await Manager.PrepareAsync(no, Debit(account, 50)));
        Assert.Equal(Vote.No, first.Vote);
        await Manager.RollbackAsync(no, "{}");
        await Manager.RollbackAsync(no, "{}");
        Assert.Equal(40, await Ledger.GetBalanceAsync(account));
        Assert.Empty(await PreparedAsync());
    }

    [Fact]
    public async Task ConcurrentDuplicatePrepares_AllAnswerYes_AndOnlyOneBranchIsPrepared()
    {
        var account = await AccountAsync(100);
        var branch = NewBranch();

        var votes = await Task.WhenAll(Enumerable.Range(0, 6).Select(_ => Task.Run(() => Manager.PrepareAsync(branch, Debit(account, 10)))));

        Assert.All(votes, v => Assert.Equal(Vote.Yes, v.Vote));
        Assert.Single(await PreparedAsync());
        await Task.WhenAll(Enumerable.Range(0, 3).Select(_ => Task.Run(() => Manager.CommitAsync(branch, "{}"))));
        Assert.Equal(90, await Ledger.GetBalanceAsync(account));
        Assert.Equal(1, await EntriesAsync(branch));
    }

    [Fact]
    public async Task RollbackBeforePrepare_LeavesAMarker_SoThatALatePrepareVotesNoAndReservesNothing()
    {
        var account = await AccountAsync(100);
        var branch = NewBranch();

        await Manager.RollbackAsync(branch, "{}");
        var vote = await Manager.PrepareAsync(branch, Debit(account, 30));

        Assert.Equal(PrepareResult.No(ParticipantProtocol.RolledBackBeforePrepare), vote);
        Assert.Empty(await PreparedAsync());
        Assert.Equal(100, await Ledger.GetBalanceAsync(account));
        Assert.Equal(new BranchRecord(BranchPhase.RolledBack, null, ParticipantProtocol.RolledBackBeforePrepare), await Manager.GetBranchAsync(branch));
        await Assert.ThrowsAsync<ProtocolViolationException>(() => Manager.CommitAsync(branch, "{}"));
    }

    [Fact]
    public async Task Commit_OfABranchNeverPrepared_IsAViolation_AndChangesNothing()
    {
        var branch = NewBranch();

        await Assert.ThrowsAsync<ProtocolViolationException>(() => Manager.CommitAsync(branch, "{}"));

        Assert.Null(await Manager.GetBranchAsync(branch));
    }

    [Fact]
    public async Task Prepare_OnAnAccountHeldByAnotherPreparedBranch_VotesNoWithinTheLockTimeout_InsteadOfWaiting()
    {
        var account = await AccountAsync(100);
        var (holder, waiter) = (NewBranch(), NewBranch());
        Assert.Equal(Vote.Yes, (await Manager.PrepareAsync(holder, Debit(account, 10))).Vote);

        var clock = Stopwatch.StartNew();
        var vote = await Manager.PrepareAsync(waiter, Credit(account, 5));

        Assert.Equal(Vote.No, vote.Vote);
        Assert.Contains("held by another transaction", vote.Reason, StringComparison.Ordinal);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"the vote took {clock.Elapsed}");
        Assert.Single(await PreparedAsync());
        Assert.False(await Ledger.SetBalanceAsync(account, 5), "the PUT should time out on the held row");

        await Manager.RollbackAsync(holder, "{}");
        Assert.Equal(100, await Ledger.GetBalanceAsync(account));
    }

    [Fact]
    public async Task TwoParticipantsOnOneServer_HaveDistinctXids_AndEachSeesOnlyItsOwn()
    {
        var account = await AccountAsync(100);
        var branch = NewBranch();
        var otherName = $"other-{Guid.NewGuid():N}"[..20];
        var other = new LedgerParticipant(ConnectionString, otherName, Options).ResourceManager;
        var account2 = await AccountAsync(100);

        Assert.Equal(Vote.Yes, (await Manager.PrepareAsync(branch, Debit(account, 1))).Vote);
        Assert.Equal(Vote.Yes, (await other.PrepareAsync(branch, Debit(account2, 1))).Vote);

        Assert.Equal([branch], (await Manager.ListPreparedAsync(DateTimeOffset.MaxValue, 10)).Select(b => b.Branch));
        Assert.Equal([branch], (await other.ListPreparedAsync(DateTimeOffset.MaxValue, 10)).Select(b => b.Branch));
        await other.RollbackAsync(branch, "{}");
        await Manager.CommitAsync(branch, "{}");
        Assert.Equal((99L, 100L), ((await Ledger.GetBalanceAsync(account))!.Value, (await Ledger.GetBalanceAsync(account2))!.Value));
    }
}
