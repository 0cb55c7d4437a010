using Serverless.Core.Protocol;
using static Serverless.Core.Tests.Protocol.Tx;

namespace Serverless.Core.Tests.Protocol;

public sealed class CoordinatorAcknowledgementTests
{
    [Fact]
    public void Ack_CommittedFromSomeYesVoters_KeepsCommitting()
    {
        var state = New("bank", "inventory").Votes(Vote.Yes, Vote.Yes);

        var step = state.Apply(new BranchAcknowledged(0, BranchOutcome.Committed));

        Assert.Equal(StepKind.Applied, step.Kind);
        Assert.Equal(BranchOutcome.Committed, step.State.Branches[0].Outcome);
        Assert.Equal(TransactionStatus.Committing, step.State.Status);
        Assert.Null(step.State.CompletedAt);
        Assert.Empty(step.Commands);
        Assert.True(step.State.HasPendingPhase2);
    }

    [Fact]
    public void Ack_CommittedFromTheLastYesVoter_CompletesTheCommit()
    {
        var state = New("bank", "inventory", "orders").Votes(Vote.Yes, Vote.ReadOnly, Vote.Yes)
            .Then(new BranchAcknowledged(0, BranchOutcome.Committed));
        var at = Now.AddSeconds(3);

        var step = state.Apply(new BranchAcknowledged(2, BranchOutcome.Committed), at);

        Assert.Equal(StepKind.Applied, step.Kind);
        Assert.Equal(TransactionStatus.Committed, step.State.Status);
        Assert.Equal(at, step.State.CompletedAt);
        Assert.Null(step.State.Branches[1].Outcome);
        Assert.False(step.State.HasPendingPhase2);
        Assert.Empty(step.Commands);
    }

    [Fact]
    public void Ack_RolledBackFromEveryYesVoterUnderAbort_CompletesTheAbort()
    {
        var state = New("bank", "inventory", "orders").Votes(Vote.Yes, Vote.Yes, Vote.No)
            .Then(new BranchAcknowledged(1, BranchOutcome.RolledBack));

        var step = state.Apply(new BranchAcknowledged(0, BranchOutcome.RolledBack));

        Assert.Equal(TransactionStatus.Aborted, step.State.Status);
        Assert.Equal(Decision.Abort, step.State.Decision);
        Assert.Equal(Now, step.State.CompletedAt);
    }

    [Fact]
    public void Ack_UnderAbort_BranchesThatNeverVotedMustAcknowledgeBeforeAborted()
    {
        var state = New("bank", "inventory", "orders").Then(new VoteCast(0, Vote.Yes)).AfterDeadline();
        Assert.Equal(TransactionStatus.Aborting, state.Status);

        state = state.Then(new BranchAcknowledged(0, BranchOutcome.RolledBack));
        Assert.Equal(TransactionStatus.Aborting, state.Status);
        AssertCommands(state.Apply(new Phase2RetryDue(1)).Commands, new SendRollback(1), new SendRollback(2), Retry(2));

        state = state.Then(new BranchAcknowledged(2, BranchOutcome.RolledBack));
        Assert.Equal(TransactionStatus.Aborting, state.Status);

        state = state.Then(new BranchAcknowledged(1, BranchOutcome.RolledBack));
        Assert.Equal(TransactionStatus.Aborted, state.Status);
        Assert.All(state.Branches, b => Assert.Equal(BranchOutcome.RolledBack, b.Outcome));
    }

    [Fact]
    public void Ack_RolledBackFromANoVoterUnderAbort_ChangesNothing()
    {
        // A branch whose No vote had not arrived when Abort was decided was sent a rollback, and answers it. It held
        // nothing, so the answer confirms nothing new: the record (here already final) stays as it is.
        var state = New("bank", "inventory").Then(new VoteCast(0, Vote.Yes)).AfterDeadline()
            .Then(new BranchAcknowledged(0, BranchOutcome.RolledBack)).Then(new VoteCast(1, Vote.No));
        Assert.Equal(TransactionStatus.Aborted, state.Status);

        var step = state.Apply(new BranchAcknowledged(1, BranchOutcome.RolledBack));

        AssertUnchanged(step, state, StepKind.Duplicate);
        Assert.Empty(step.Commands);
        Assert.Null(step.State.Branches[1].Outcome);
    }

    [Fact]
    public void Ack_Duplicate_IsADuplicateWithoutCommands()
    {
        var state = New("bank", "inventory").Votes(Vote.Yes, Vote.Yes).Then(new BranchAcknowledged(0, BranchOutcome.Committed));

        var step = state.Apply(new BranchAcknowledged(0, BranchOutcome.Committed));

        AssertUnchanged(step, state, StepKind.Duplicate);
        Assert.Empty(step.Commands);
    }

    [Fact]
    public void Ack_DuplicateAfterCompletion_DoesNotReopenTheTransaction()
    {
        var state = New("bank").Votes(Vote.Yes).Then(new BranchAcknowledged(0, BranchOutcome.Committed));

        var step = state.Apply(new BranchAcknowledged(0, BranchOutcome.Committed), Now.AddHours(1));

        AssertUnchanged(step, state, StepKind.Duplicate);
        Assert.Equal(TransactionStatus.Committed, step.State.Status);
        Assert.Equal(Now, step.State.CompletedAt);
    }

    [Theory]
    [InlineData(BranchOutcome.Committed)]
    [InlineData(BranchOutcome.RolledBack)]
    public void Ack_BeforeAnyDecision_IsRejected(BranchOutcome outcome)
    {
        var state = New("bank", "inventory").Then(new VoteCast(0, Vote.Yes));

        var step = state.Apply(new BranchAcknowledged(0, outcome));

        AssertRejected(step, state, "before any decision");
    }

    [Fact]
    public void Ack_RolledBackUnderCommit_IsRejected()
    {
        var state = New("bank", "inventory").Votes(Vote.Yes, Vote.Yes);

        var step = state.Apply(new BranchAcknowledged(0, BranchOutcome.RolledBack));

        AssertRejected(step, state, "but the decision is Commit");
    }

    [Fact]
    public void Ack_CommittedUnderAbort_IsRejected()
    {
        var state = New("bank", "inventory").Votes(Vote.Yes, Vote.No);

        var step = state.Apply(new BranchAcknowledged(0, BranchOutcome.Committed));

        AssertRejected(step, state, "but the decision is Abort");
    }

    [Fact]
    public void Ack_CommittedFromAReadOnlyBranch_IsRejected()
    {
        var state = New("bank", "inventory").Votes(Vote.ReadOnly, Vote.Yes);

        var step = state.Apply(new BranchAcknowledged(0, BranchOutcome.Committed));

        AssertRejected(step, state, "a commit it was never sent");
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(1)]
    public void Ack_ForAnUnknownBranch_IsRejected(int branch)
    {
        var state = New("bank").Votes(Vote.Yes);

        var step = state.Apply(new BranchAcknowledged(branch, BranchOutcome.Committed));

        AssertRejected(step, state, "unknown branch");
    }
}
