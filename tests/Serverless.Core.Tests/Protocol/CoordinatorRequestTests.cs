using Serverless.Core.Protocol;
using static Serverless.Core.Tests.Protocol.Tx;

namespace Serverless.Core.Tests.Protocol;

/// <summary>Start, resume, client abort requests, and argument checks.</summary>
public sealed class CoordinatorRequestTests
{
    private sealed record UnknownEvent : CoordinatorEvent;

    [Fact]
    public void Start_SendsAPrepareToEveryBranchInRequestOrder()
    {
        var state = New("bank", "bank", "inventory");

        AssertCommands(Coordinator.Start(state, Options), new SendPrepare(0), new SendPrepare(1), new SendPrepare(2));
    }

    [Fact]
    public void Resume_WhilePreparing_ResendsPreparesOnlyToBranchesWithoutAVote()
    {
        var state = New("bank", "inventory", "orders").Then(new VoteCast(1, Vote.Yes));

        AssertCommands(Coordinator.Resume(state, Options), new SendPrepare(0), new SendPrepare(2));
    }

    [Fact]
    public void Resume_WhileCommitting_ResendsThePendingCommitsWithAFirstRetry()
    {
        var state = New("bank", "inventory").Votes(Vote.Yes, Vote.Yes).Then(new BranchAcknowledged(0, BranchOutcome.Committed));

        AssertCommands(Coordinator.Resume(state, Options), new SendCommit(1), Retry(1));
    }

    [Fact]
    public void Resume_WhileAborting_ResendsThePendingRollbacksWithAFirstRetry()
    {
        var state = New("bank", "inventory").AfterDeadline();

        AssertCommands(Coordinator.Resume(state, Options), new SendRollback(0), new SendRollback(1), Retry(1));
    }

    [Fact]
    public void Resume_WhenTerminal_DoesNothing()
    {
        Assert.Empty(Coordinator.Resume(New("bank").Votes(Vote.ReadOnly), Options));
        Assert.Empty(Coordinator.Resume(New("bank").Votes(Vote.No), Options));
    }

    [Fact]
    public void AbortRequest_WhilePreparing_DecidesAbortWithTheClientsReason()
    {
        var state = New("bank", "inventory").Then(new VoteCast(0, Vote.Yes));

        var step = state.Apply(new AbortRequested("customer cancelled"));

        Assert.Equal(StepKind.Applied, step.Kind);
        Assert.Equal(TransactionStatus.Aborting, step.State.Status);
        Assert.Equal(Decision.Abort, step.State.Decision);
        Assert.Equal("abort requested: customer cancelled", step.State.Reason);
        Assert.Equal(Now, step.State.DecidedAt);
        AssertCommands(step.Commands, new SendRollback(0), new SendRollback(1));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    public void AbortRequest_WithoutAReason_SaysOnlyThatAnAbortWasRequested(string? reason)
    {
        var step = New("bank").Apply(new AbortRequested(reason));

        Assert.Equal("abort requested", step.State.Reason);
    }

    [Fact]
    public void AbortRequest_WhenAlreadyAborting_IsADuplicateThatReissuesTheRollbacks()
    {
        var state = New("bank", "inventory").Votes(Vote.Yes, Vote.No);

        var step = state.Apply(new AbortRequested("again"));

        AssertUnchanged(step, state, StepKind.Duplicate);
        Assert.Equal("participant 'inventory' voted No: refused", step.State.Reason);
        AssertCommands(step.Commands, new SendRollback(0), Retry(1));
    }

    [Fact]
    public void AbortRequest_WhenAlreadyAborted_IsADuplicateWithoutCommands()
    {
        var state = New("bank").Votes(Vote.No);

        var step = state.Apply(new AbortRequested());

        AssertUnchanged(step, state, StepKind.Duplicate);
        Assert.Empty(step.Commands);
    }

    [Fact]
    public void AbortRequest_WhenDecidedCommit_IsRejected()
    {
        var committing = New("bank", "inventory").Votes(Vote.Yes, Vote.Yes);
        var committed = committing.Then(new BranchAcknowledged(0, BranchOutcome.Committed)).Then(new BranchAcknowledged(1, BranchOutcome.Committed));

        AssertRejected(committing.Apply(new AbortRequested()), committing, "already decided Commit");
        AssertRejected(committed.Apply(new AbortRequested()), committed, "already decided Commit");
    }

    [Fact]
    public void Apply_AnEventTypeItDoesNotKnow_IsRejected()
    {
        var state = New("bank");

        AssertRejected(state.Apply(new UnknownEvent()), state, "unknown event UnknownEvent");
    }

    [Fact]
    public void Apply_WithNullArguments_Throws()
    {
        var state = New("bank");

        Assert.Throws<ArgumentNullException>(() => Coordinator.Apply(null!, new VoteDeadlinePassed(), Now, Options));
        Assert.Throws<ArgumentNullException>(() => Coordinator.Apply(state, null!, Now, Options));
        Assert.Throws<ArgumentNullException>(() => Coordinator.Apply(state, new VoteDeadlinePassed(), Now, null!));
        Assert.Throws<ArgumentNullException>(() => Coordinator.Start(null!, Options));
        Assert.Throws<ArgumentNullException>(() => Coordinator.Resume(state, null!));
    }
}
