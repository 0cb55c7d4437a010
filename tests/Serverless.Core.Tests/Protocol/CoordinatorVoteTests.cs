using Serverless.Core.Protocol;
using static Serverless.Core.Tests.Protocol.Tx;

namespace Serverless.Core.Tests.Protocol;

public sealed class CoordinatorVoteTests
{
    [Fact]
    public void Vote_YesFromOneOfSeveralBranches_IsRecordedAndKeepsPreparing()
    {
        var state = New("bank", "inventory");

        var step = state.Apply(new VoteCast(0, Vote.Yes));

        Assert.Equal(StepKind.Applied, step.Kind);
        Assert.True(step.Changed);
        Assert.Empty(step.Commands);
        Assert.Equal(TransactionStatus.Preparing, step.State.Status);
        Assert.Null(step.State.Decision);
        Assert.Equal(Vote.Yes, step.State.Branches[0].Vote);
        Assert.Null(step.State.Branches[1].Vote);
    }

    [Fact]
    public void Vote_YesFromEveryBranch_DecidesCommitAndSendsACommitToEachBranch()
    {
        var state = New("bank", "bank", "inventory").Votes(Vote.Yes, Vote.Yes);

        var step = state.Apply(new VoteCast(2, Vote.Yes));

        Assert.Equal(StepKind.Applied, step.Kind);
        Assert.Equal(TransactionStatus.Committing, step.State.Status);
        Assert.Equal(Decision.Commit, step.State.Decision);
        Assert.Null(step.State.Reason);
        Assert.Equal(Now, step.State.DecidedAt);
        Assert.Null(step.State.CompletedAt);
        AssertCommands(step.Commands, new SendCommit(0), new SendCommit(1), new SendCommit(2));
    }

    [Fact]
    public void Vote_No_DecidesAbortAtOnceWithTheParticipantsReason()
    {
        var state = New("inventory", "bank", "orders").Then(new VoteCast(0, Vote.Yes));

        var step = state.Apply(new VoteCast(1, Vote.No, "insufficient funds in 'alice'"));

        Assert.Equal(StepKind.Applied, step.Kind);
        Assert.Equal(TransactionStatus.Aborting, step.State.Status);
        Assert.Equal(Decision.Abort, step.State.Decision);
        Assert.Equal("participant 'bank' voted No: insufficient funds in 'alice'", step.State.Reason);
        Assert.Equal("insufficient funds in 'alice'", step.State.Branches[1].Reason);
        Assert.Equal(Now, step.State.DecidedAt);

        // The Yes voter and the branch that has not voted yet may hold reservations; the No voter holds none.
        AssertCommands(step.Commands, new SendRollback(0), new SendRollback(2));
    }

    [Fact]
    public void Vote_NoWithoutAReason_NamesOnlyTheParticipant()
    {
        var step = New("bank", "inventory").Apply(new VoteCast(0, Vote.No));

        Assert.Equal("participant 'bank' voted No", step.State.Reason);
    }

    [Fact]
    public void Vote_SecondNoAfterAbort_KeepsTheFirstReasonAndDecisionTime()
    {
        var state = New("bank", "inventory").Then(new VoteCast(0, Vote.No, "first"));

        var step = state.Apply(new VoteCast(1, Vote.No, "second"), Now.AddSeconds(5));

        Assert.Equal(Decision.Abort, step.State.Decision);
        Assert.Equal("participant 'bank' voted No: first", step.State.Reason);
        Assert.Equal(Now, step.State.DecidedAt);
        Assert.Equal(Vote.No, step.State.Branches[1].Vote);
    }

    [Fact]
    public void Vote_ReadOnlyMixedWithYes_CommitsWithoutAPhase2CommandForTheReadOnlyBranch()
    {
        var state = New("bank", "inventory").Then(new VoteCast(0, Vote.ReadOnly));

        var step = state.Apply(new VoteCast(1, Vote.Yes));

        Assert.Equal(TransactionStatus.Committing, step.State.Status);
        AssertCommands(step.Commands, new SendCommit(1));
    }

    [Fact]
    public void Vote_ReadOnlyFromEveryBranch_CommitsImmediatelyWithNoPhase2Commands()
    {
        var state = New("bank", "inventory").Then(new VoteCast(0, Vote.ReadOnly));

        var step = state.Apply(new VoteCast(1, Vote.ReadOnly));

        Assert.Equal(StepKind.Applied, step.Kind);
        Assert.Equal(TransactionStatus.Committed, step.State.Status);
        Assert.Equal(Decision.Commit, step.State.Decision);
        Assert.Equal(Now, step.State.DecidedAt);
        Assert.Equal(Now, step.State.CompletedAt);
        Assert.Empty(step.Commands);
    }

    [Fact]
    public void Vote_NoWhenEveryOtherBranchIsReadOnly_AbortsImmediatelyWithNoPhase2Commands()
    {
        var state = New("bank", "inventory").Then(new VoteCast(0, Vote.ReadOnly));

        var step = state.Apply(new VoteCast(1, Vote.No, "out of stock"));

        Assert.Equal(TransactionStatus.Aborted, step.State.Status);
        Assert.Equal(Now, step.State.CompletedAt);
        Assert.Empty(step.Commands);
    }

    [Fact]
    public void Vote_DuplicateWhilePreparing_IsADuplicateWithoutCommands()
    {
        var state = New("bank", "inventory").Then(new VoteCast(0, Vote.Yes));

        var step = state.Apply(new VoteCast(0, Vote.Yes));

        AssertUnchanged(step, state, StepKind.Duplicate);
        Assert.Empty(step.Commands);
    }

    [Fact]
    public void Vote_DuplicateAfterTheCommitDecision_ReissuesThePendingCommits()
    {
        // The vote that decided may be redelivered because the commands it caused were lost in a crash.
        var state = New("bank", "inventory").Votes(Vote.Yes, Vote.Yes).Then(new BranchAcknowledged(0, BranchOutcome.Committed));

        var step = state.Apply(new VoteCast(1, Vote.Yes));

        AssertUnchanged(step, state, StepKind.Duplicate);
        AssertCommands(step.Commands, new SendCommit(1), Retry(1));
    }

    [Fact]
    public void Vote_DuplicateAfterTheAbortDecision_ReissuesThePendingRollbacks()
    {
        var state = New("bank", "inventory", "orders").Votes(Vote.Yes, Vote.No);

        var step = state.Apply(new VoteCast(1, Vote.No, "refused"));

        AssertUnchanged(step, state, StepKind.Duplicate);
        AssertCommands(step.Commands, new SendRollback(0), new SendRollback(2), Retry(1));
    }

    [Fact]
    public void Vote_DuplicateAfterCompletion_IsADuplicateWithoutCommands()
    {
        var state = New("bank").Votes(Vote.Yes).Then(new BranchAcknowledged(0, BranchOutcome.Committed));

        var step = state.Apply(new VoteCast(0, Vote.Yes));

        AssertUnchanged(step, state, StepKind.Duplicate);
        Assert.Empty(step.Commands);
    }

    [Theory]
    [InlineData(Vote.Yes, Vote.No)]
    [InlineData(Vote.No, Vote.Yes)]
    [InlineData(Vote.Yes, Vote.ReadOnly)]
    [InlineData(Vote.ReadOnly, Vote.Yes)]
    public void Vote_ContradictingAnEarlierVote_IsRejected(Vote first, Vote second)
    {
        var state = New("bank", "inventory").Then(new VoteCast(0, first));

        var step = state.Apply(new VoteCast(0, second));

        AssertRejected(step, state, $"voted {second} after voting {first}");
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(2)]
    [InlineData(int.MaxValue)]
    public void Vote_ForAnUnknownBranch_IsRejected(int branch)
    {
        var state = New("bank", "inventory");

        var step = state.Apply(new VoteCast(branch, Vote.Yes));

        AssertRejected(step, state, "unknown branch");
    }

    [Fact]
    public void Vote_FirstVoteAfterACommitDecision_IsRejected()
    {
        // Unreachable through votes (Commit needs every vote); built by hand to pin the guard.
        var state = New("bank", "inventory").Votes(Vote.Yes, Vote.Yes);
        state = state with { Branches = state.Branches.SetItem(1, state.Branches[1] with { Vote = null }) };

        var step = state.Apply(new VoteCast(1, Vote.Yes));

        AssertRejected(step, state, "after a Commit decision");
    }

    [Fact]
    public void Vote_LateYesUnderAbort_IsRecordedAndGetsARollback()
    {
        var state = New("bank", "inventory").AfterDeadline();

        var step = state.Apply(new VoteCast(1, Vote.Yes), state.Deadline.AddSeconds(1));

        Assert.Equal(StepKind.Applied, step.Kind);
        Assert.Equal(Vote.Yes, step.State.Branches[1].Vote);
        Assert.Equal(TransactionStatus.Aborting, step.State.Status);
        AssertCommands(step.Commands, new SendRollback(1));
    }

    [Fact]
    public void Vote_LateYesUnderAbortAfterItsRollbackWasAcknowledged_SendsNothing()
    {
        var state = New("bank", "inventory").AfterDeadline().Then(new BranchAcknowledged(1, BranchOutcome.RolledBack));

        var step = state.Apply(new VoteCast(1, Vote.Yes));

        Assert.Equal(StepKind.Applied, step.Kind);
        Assert.Equal(Vote.Yes, step.State.Branches[1].Vote);
        Assert.Equal(BranchOutcome.RolledBack, step.State.Branches[1].Outcome);
        Assert.Empty(step.Commands);
    }

    [Theory]
    [InlineData(Vote.No)]
    [InlineData(Vote.ReadOnly)]
    public void Vote_LateNoOrReadOnlyUnderAbort_IsRecordedWithoutCommands(Vote vote)
    {
        var state = New("bank", "inventory").AfterDeadline();

        var step = state.Apply(new VoteCast(0, vote));

        Assert.Equal(StepKind.Applied, step.Kind);
        Assert.Equal(vote, step.State.Branches[0].Vote);
        Assert.Equal(TransactionStatus.Aborting, step.State.Status);
        Assert.Empty(step.Commands);
    }

    [Theory]
    [InlineData(Vote.No)]
    [InlineData(Vote.ReadOnly)]
    public void Vote_LateNoOrReadOnlyUnderAbortFromTheLastBranchOwingAnAck_CompletesTheAbort(Vote vote)
    {
        // Abort was decided while branch 1 had not voted, so it owed an acknowledgement. Its rollback may have
        // been lost in a crash; once it is known to hold nothing, nothing else would ever finish the transaction.
        var state = New("bank", "inventory").Then(new VoteCast(0, Vote.Yes)).AfterDeadline()
            .Then(new BranchAcknowledged(0, BranchOutcome.RolledBack));
        var at = state.Deadline.AddSeconds(2);

        var step = state.Apply(new VoteCast(1, vote), at);

        Assert.Equal(StepKind.Applied, step.Kind);
        Assert.Equal(TransactionStatus.Aborted, step.State.Status);
        Assert.Equal(at, step.State.CompletedAt);
        Assert.Empty(step.Commands);
        Assert.Empty(step.State.Apply(new Phase2RetryDue(1)).Commands);
    }
}

/// <summary>The one-phase decision a participant records itself is the coordinator's rule for a one-branch transaction, not a copy.</summary>
public sealed class CoordinatorOnePhaseTests
{
    [Theory]
    [InlineData(Vote.Yes, null, Decision.Commit, null)]
    [InlineData(Vote.ReadOnly, null, Decision.Commit, null)]
    [InlineData(Vote.No, "insufficient funds in 'alice'", Decision.Abort, "participant 'bank' voted No: insufficient funds in 'alice'")]
    [InlineData(Vote.No, null, Decision.Abort, "participant 'bank' voted No")]
    public void TheOnlyBranchsVote_DecidesAsTheCoordinatorDecidesAOneBranchTransaction(Vote vote, string? reason, Decision decision, string? recordedReason)
    {
        var record = Coordinator.DecideOnePhase("tx-1", "bank", vote, reason, Now);
        var orchestrated = DecisionRecord.Of(New("bank").Apply(new VoteCast(0, vote, reason, "bank"), Now).State);

        Assert.Equal(decision, record.Decision);
        Assert.Equal(recordedReason, record.Reason);
        Assert.Equal(Now, record.DecidedAt);
        Assert.Equal([vote], record.Votes.AsEnumerable());
        Assert.Equal((orchestrated.Decision, orchestrated.Reason), (record.Decision, record.Reason));
    }
}
