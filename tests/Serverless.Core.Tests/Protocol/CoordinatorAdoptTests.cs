using Serverless.Core.Protocol;
using static Serverless.Core.Tests.Protocol.Tx;

namespace Serverless.Core.Tests.Protocol;

/// <summary>
/// <see cref="Coordinator.Adopt"/>: a proposed decision replaced by the durable decision record, whatever the replay proposed (I2).
/// </summary>
public sealed class CoordinatorAdoptTests
{
    [Fact]
    public void Adopt_OfTheRecordOfAProposedCommit_IsADuplicateWithNoCommands()
    {
        var proposed = New("bank", "inventory").Votes(Vote.Yes, Vote.ReadOnly);
        Assert.Equal(Decision.Commit, proposed.Decision);

        var step = Adopt(proposed, DecisionRecord.Of(proposed));

        AssertUnchanged(step, proposed, StepKind.Duplicate);
        Assert.Empty(step.Commands);
    }

    [Fact]
    public void Adopt_OfTheRecordOfAProposedAbort_IsADuplicateWithNoCommands()
    {
        var proposed = New("bank", "inventory").Then(new VoteCast(0, Vote.Yes)).AfterDeadline();

        var step = Adopt(proposed, DecisionRecord.Of(proposed), proposed.Deadline);

        AssertUnchanged(step, proposed, StepKind.Duplicate);
        Assert.Empty(step.Commands);
    }

    [Fact]
    public void Adopt_OfARecordedCommitOverAProposedAbort_TakesTheRecordsVotesAndCommitsOnlyTheYesVoters()
    {
        // The replay saw the deadline before the votes of branches 1 and 2; the first run recorded Commit on all three votes.
        var proposed = New("bank", "inventory", "bank").Then(new VoteCast(0, Vote.Yes)).AfterDeadline();
        var record = Record(Decision.Commit, null, Vote.Yes, Vote.ReadOnly, Vote.Yes);

        var step = Adopt(proposed, record, proposed.Deadline);

        Assert.Equal(StepKind.Applied, step.Kind);
        Assert.Equal(Decision.Commit, step.State.Decision);
        Assert.Equal(TransactionStatus.Committing, step.State.Status);
        Assert.Null(step.State.Reason);
        Assert.Equal([Vote.Yes, Vote.ReadOnly, Vote.Yes], step.State.Branches.Select(b => b.Vote));

        // No commit to the ReadOnly voter, no rollback to anyone; the deadline is past, so phase 2 gets its own retry timer.
        AssertCommands(step.Commands, new SendCommit(0), new SendCommit(2), Retry(1));
    }

    [Fact]
    public void Adopt_OfARecordedCommitOverAProposedAbort_SendsNoCommitToAReadOnlyVoterTheProposalAlreadyKnew()
    {
        var proposed = New("inventory", "bank").Then(new VoteCast(0, Vote.ReadOnly)).Then(new AbortRequested("operator"));
        var record = Record(Decision.Commit, null, Vote.ReadOnly, Vote.Yes);

        var step = Adopt(proposed, record);

        Assert.Equal(Decision.Commit, step.State.Decision);
        Assert.Equal([Vote.ReadOnly, Vote.Yes], step.State.Branches.Select(b => b.Vote));
        AssertCommands(step.Commands, new SendCommit(1));
    }

    [Fact]
    public void Adopt_OfARecordedCommitOfReadOnlyVotesOnly_CompletesAtOnceWithNoCommands()
    {
        var proposed = New("inventory", "inventory").AfterDeadline();
        var record = Record(Decision.Commit, null, Vote.ReadOnly, Vote.ReadOnly);

        var step = Adopt(proposed, record, proposed.Deadline);

        Assert.Equal(StepKind.Applied, step.Kind);
        Assert.Equal(TransactionStatus.Committed, step.State.Status);
        Assert.Equal(proposed.Deadline, step.State.CompletedAt);
        Assert.Empty(step.Commands);
    }

    [Fact]
    public void Adopt_OfACommitRecordedByAOnePhaseBranch_CommitsTheBranchTheDeadlineWouldHaveRolledBack()
    {
        var proposed = New("bank").AfterDeadline();
        AssertCommands(Coordinator.Apply(New("bank"), new VoteDeadlinePassed(), proposed.Deadline, Options).Commands, new SendRollback(0), Retry(1));

        var step = Adopt(proposed, Record(Decision.Commit, null, Vote.Yes), proposed.Deadline);

        Assert.Equal(TransactionStatus.Committing, step.State.Status);
        AssertCommands(step.Commands, new SendCommit(0), Retry(1));
    }

    [Fact]
    public void Adopt_OfARecordedAbortOverAProposedCommit_RollsBackTheYesVotersOnlyWithTheRecordsReason()
    {
        var proposed = New("bank", "inventory", "bank").Votes(Vote.Yes, Vote.ReadOnly, Vote.Yes);
        Assert.Equal(Decision.Commit, proposed.Decision);

        var step = Adopt(proposed, Record(Decision.Abort, "abort requested"));

        Assert.Equal(StepKind.Applied, step.Kind);
        Assert.Equal(Decision.Abort, step.State.Decision);
        Assert.Equal(TransactionStatus.Aborting, step.State.Status);
        Assert.Equal("abort requested", step.State.Reason);
        Assert.Null(step.State.CompletedAt);

        // The deadline, 29 s away, serves as the first retry (as for any decision taken that close to it).
        AssertCommands(step.Commands, new SendRollback(0), new SendRollback(2));
    }

    [Fact]
    public void Adopt_OfARecordedAbortOverAProposedCommitOfReadOnlyVotesOnly_CompletesAtOnce()
    {
        var proposed = New("inventory", "inventory").Votes(Vote.ReadOnly, Vote.ReadOnly);
        Assert.Equal(TransactionStatus.Committed, proposed.Status);

        var step = Adopt(proposed, Record(Decision.Abort, "presumed abort"), Now.AddSeconds(2));

        Assert.Equal(StepKind.Applied, step.Kind);
        Assert.Equal(Decision.Abort, step.State.Decision);
        Assert.Equal(TransactionStatus.Aborted, step.State.Status);
        Assert.Equal(Now.AddSeconds(2), step.State.CompletedAt);
        Assert.Empty(step.Commands);
    }

    [Fact]
    public void Adopt_OfARecordedAbortOverAnUndecidedState_RollsBackTheYesVotersAndTheBranchesThatHaveNotVoted()
    {
        // The abort API's record carries no votes.
        var proposed = New("bank", "inventory", "bank").Then(new VoteCast(0, Vote.Yes)).Then(new VoteCast(1, Vote.ReadOnly));

        var step = Adopt(proposed, Record(Decision.Abort, "abort requested"));

        Assert.Equal(TransactionStatus.Aborting, step.State.Status);
        Assert.Equal([Vote.Yes, Vote.ReadOnly, null], step.State.Branches.Select(b => b.Vote));
        AssertCommands(step.Commands, new SendRollback(0), new SendRollback(2));
    }

    [Fact]
    public void Adopt_OfARecordedAbortWithANoVote_TakesItAndSendsThatBranchNoRollback()
    {
        var proposed = New("bank", "bank").Then(new VoteCast(0, Vote.Yes));

        var step = Adopt(proposed, Record(Decision.Abort, "participant 'bank' voted No", null, Vote.No));

        Assert.Equal(Vote.No, step.State.Branches[1].Vote);
        AssertCommands(step.Commands, new SendRollback(0));
    }

    [Fact]
    public void Adopt_KeepsTheProposalsOwnVotesOverTheRecords()
    {
        var proposed = New("bank", "inventory").Then(new VoteCast(0, Vote.Yes)).AfterDeadline();

        var step = Adopt(proposed, Record(Decision.Commit, null, Vote.ReadOnly, Vote.Yes, Vote.Yes), proposed.Deadline);

        Assert.Equal([Vote.Yes, Vote.Yes], step.State.Branches.Select(b => b.Vote));
        AssertCommands(step.Commands, new SendCommit(0), new SendCommit(1), Retry(1));
    }

    [Fact]
    public void Adopt_WithANullArgument_Throws()
    {
        var state = New("bank").Then(new VoteCast(0, Vote.Yes));
        var record = DecisionRecord.Of(state);

        Assert.Throws<ArgumentNullException>(() => Coordinator.Adopt(null!, record, Now, Options));
        Assert.Throws<ArgumentNullException>(() => Coordinator.Adopt(state, null!, Now, Options));
        Assert.Throws<ArgumentNullException>(() => Coordinator.Adopt(state, record, Now, null!));
    }

    [Theory]
    [InlineData("bank", "insufficient funds in 'alice'", "participant 'bank' voted No: insufficient funds in 'alice'")]
    [InlineData("orders", null, "participant 'orders' voted No")]
    [InlineData("orders", "", "participant 'orders' voted No")]
    public void NoVoteReason_NamesTheParticipantAndItsReasonWhenItGaveOne(string participant, string? reason, string expected)
    {
        Assert.Equal(expected, Coordinator.NoVoteReason(participant, reason));
    }

    [Fact]
    public void NoVoteReason_IsTheReasonTheCoordinatorRecordsForANoVote()
    {
        var step = New("inventory", "bank").Apply(new VoteCast(1, Vote.No, "insufficient funds in 'alice'"));

        Assert.Equal(Coordinator.NoVoteReason("bank", "insufficient funds in 'alice'"), step.State.Reason);
    }

    private static CoordinatorStep Adopt(TransactionState proposed, DecisionRecord record, DateTimeOffset? now = null) =>
        Coordinator.Adopt(proposed, record, now ?? Now, Options);

    private static DecisionRecord Record(Decision decision, string? reason, params Vote?[] votes) =>
        new(decision, reason, Now, [.. votes]);
}
