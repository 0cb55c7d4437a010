using Serverless.Core.Protocol;
using static Serverless.Core.Tests.Protocol.Tx;

namespace Serverless.Core.Tests.Protocol;

/// <summary>
/// Mixed transactions: prepared branches (2PC, TCC) first; saga actions only once all voted Yes, one at a time in request
/// order; a saga action's failure aborts and compensates every saga branch; a compensation that keeps failing is a heuristic.
/// </summary>
public sealed class CoordinatorBranchKindTests
{
    /// <summary>orders (2PC), inventory (TCC), payments (saga), payments (saga).</summary>
    private static TransactionState Order() => TransactionState.Create(
        "tx-1",
        [("orders", "{}", BranchKind.TwoPhase), ("inventory", "{}", BranchKind.Tcc), ("payments", "{\"n\":1}", BranchKind.Saga), ("payments", "{\"n\":2}", BranchKind.Saga)],
        T0,
        VoteTimeout);

    [Fact]
    public void Start_PreparesThePreparedBranchesOnly()
    {
        AssertCommands(Coordinator.Start(Order(), Options), new SendPrepare(0), new SendPrepare(1));
        Assert.Null(Order().SagaPhaseStartedAt);
    }

    [Fact]
    public void Start_WithSagaBranchesOnly_RunsTheFirstActionOnly_AndBeginsTheSagaPhase()
    {
        var state = TransactionState.Create("tx-1", [("payments", "{}", BranchKind.Saga), ("payments", "{}", BranchKind.Saga)], T0, VoteTimeout);

        Assert.Equal(T0, state.SagaPhaseStartedAt);
        AssertCommands(Coordinator.Start(state, Options), new RunSagaAction(0), new ScheduleSagaPhaseLimit(T0 + Options.SagaPhaseLimit));
    }

    [Fact]
    public void SagaActions_RunOneAtATimeInRequestOrder_AfterEveryPreparedBranchVotedYes()
    {
        var state = Order();

        var first = state.Apply(new VoteCast(1, Vote.Yes));
        AssertCommands(first.Commands);
        Assert.Null(first.State.CurrentSagaAction);

        var last = first.State.Apply(new VoteCast(0, Vote.Yes));
        AssertCommands(last.Commands, new RunSagaAction(2), SagaLimit(Now));
        Assert.Equal(TransactionStatus.Preparing, last.State.Status);

        var applied = last.State.Apply(new VoteCast(2, Vote.Yes));
        AssertCommands(applied.Commands, new RunSagaAction(3), SagaLimit(Now));
        AssertCommands(Coordinator.Resume(applied.State, Options), new RunSagaAction(3), SagaLimit(Now));
    }

    [Fact]
    public void RedeliveredVote_WhilePreparing_ReissuesTheCurrentSagaAction()
    {
        // The vote that started the action may be redelivered because the action's command was lost in a crash.
        var state = Order().Votes(Vote.Yes, Vote.Yes);

        var step = state.Apply(new VoteCast(1, Vote.Yes));

        Assert.Equal(StepKind.Duplicate, step.Kind);
        AssertCommands(step.Commands, new RunSagaAction(2), SagaLimit(Now));

        var beforeAnyAction = Order().Then(new VoteCast(0, Vote.Yes)).Apply(new VoteCast(0, Vote.Yes));
        AssertCommands(beforeAnyAction.Commands);
    }

    [Fact]
    public void LastSagaActionApplied_DecidesCommit_AndCommitsThePreparedBranchesOnly()
    {
        var step = Order().Votes(Vote.Yes, Vote.Yes, Vote.Yes).Apply(new VoteCast(3, Vote.Yes));

        Assert.Equal(Decision.Commit, step.State.Decision);
        AssertCommands(step.Commands, new SendCommit(0), new SendCommit(1));
        Assert.Equal([null, null, BranchOutcome.Committed, BranchOutcome.Committed], step.State.Branches.Select(b => b.Outcome));

        var done = step.State.Then(new BranchAcknowledged(0, BranchOutcome.Committed)).Then(new BranchAcknowledged(1, BranchOutcome.Committed));
        Assert.Equal(TransactionStatus.Committed, done.Status);
    }

    [Fact]
    public void PreparedBranchVotingNo_AbortsBeforeAnySagaAction_AndStillCompensatesEverySagaBranch()
    {
        var step = Order().Then(new VoteCast(0, Vote.Yes)).Apply(new VoteCast(1, Vote.No, "out of stock"));

        Assert.Equal(Decision.Abort, step.State.Decision);
        Assert.DoesNotContain(step.Commands, c => c is RunSagaAction);

        // The compensation of an action that never ran cancels it: a late action (from a replay that ran it) takes nothing.
        AssertCommands(step.Commands, new SendRollback(0), new SendRollback(2), new SendRollback(3));
    }

    [Fact]
    public void SecondSagaActionFailing_AbortsNamingIt_AndCompensatesBothActions()
    {
        var step = Order().Votes(Vote.Yes, Vote.Yes, Vote.Yes).Apply(new VoteCast(3, Vote.No, "insufficient funds in 'carol'"));

        Assert.Equal(Decision.Abort, step.State.Decision);
        Assert.Equal("saga action of 'payments' was not applied: insufficient funds in 'carol'", step.State.Reason);
        AssertCommands(step.Commands, new SendRollback(0), new SendRollback(1), new SendRollback(2), new SendRollback(3));
    }

    [Fact]
    public void Abort_EndsOnlyWhenEverySagaBranchIsCompensated()
    {
        var state = Order().Votes(Vote.Yes, Vote.Yes, Vote.No)
            .Then(new BranchAcknowledged(0, BranchOutcome.RolledBack))
            .Then(new BranchAcknowledged(1, BranchOutcome.RolledBack))
            .Then(new BranchAcknowledged(2, BranchOutcome.RolledBack));

        Assert.Equal(TransactionStatus.Aborting, state.Status);
        AssertCommands(state.Apply(new Phase2RetryDue(1)).Commands, new SendRollback(3), Retry(2));

        Assert.Equal(TransactionStatus.Aborted, state.Then(new BranchAcknowledged(3, BranchOutcome.RolledBack)).Status);
    }

    [Fact]
    public void Deadline_WhileASagaActionRuns_AbortsNamingItsParticipantOnly()
    {
        var state = Order().Votes(Vote.Yes, Vote.Yes);

        var step = state.Apply(new VoteDeadlinePassed(), state.Deadline);

        Assert.Equal("vote deadline passed without a vote from 'payments'", step.State.Reason);
        AssertCommands(step.Commands, new SendRollback(0), new SendRollback(1), new SendRollback(2), new SendRollback(3), Retry(1));
    }

    [Fact]
    public void CompensationFailing_BecomesAHeuristicAtTheThreshold_AndClearsWhenItSucceeds()
    {
        var state = Order().Votes(Vote.Yes, Vote.Yes, Vote.No);

        state = state.Then(new CompensationFailed(2, "payments answered 503")).Then(new CompensationFailed(2, "payments answered 503"));
        Assert.Equal(2, state.Branches[2].CompensationFailures);
        Assert.Null(state.Branches[2].Heuristic);

        state = state.Then(new CompensationFailed(2, "timed out"));
        Assert.Equal(
            "compensation failed 3 times; it is retried until it succeeds, and the action's effect remains until then. Last failure: timed out",
            state.Branches[2].Heuristic);

        state = state.Then(new BranchAcknowledged(2, BranchOutcome.RolledBack));
        Assert.Null(state.Branches[2].Heuristic);
        Assert.Equal(BranchOutcome.RolledBack, state.Branches[2].Outcome);
    }

    [Fact]
    public void CompensationFailed_IsRejected_ForAPreparedBranch_UnderCommit_AndOnceCompensated()
    {
        var aborting = Order().Votes(Vote.No);
        AssertRejected(aborting.Apply(new CompensationFailed(0, "x")), aborting, "owes no compensation");

        var compensated = aborting.Then(new BranchAcknowledged(2, BranchOutcome.RolledBack));
        AssertRejected(compensated.Apply(new CompensationFailed(2, "x")), compensated, "owes no compensation");

        var committing = Order().Votes(Vote.Yes, Vote.Yes, Vote.Yes, Vote.Yes);
        AssertRejected(committing.Apply(new CompensationFailed(2, "x")), committing, "owes no compensation");
    }

    [Fact]
    public void AdoptingARecordedAbort_OverAProposedCommit_CompensatesTheAppliedSagaActions()
    {
        var proposed = Order().Votes(Vote.Yes, Vote.Yes, Vote.Yes, Vote.Yes);
        var record = new DecisionRecord(Decision.Abort, "presumed abort", Now, [null, null, null, null]);

        var step = Coordinator.Adopt(proposed, record, Now, Options);

        Assert.Equal(Decision.Abort, step.State.Decision);
        Assert.All(step.State.Branches.Where(b => b.IsSaga), b => Assert.Null(b.Outcome));
        AssertCommands(step.Commands, new SendRollback(0), new SendRollback(1), new SendRollback(2), new SendRollback(3));
    }

    [Fact]
    public void KindNames_RoundTrip_AndUnknownNamesAreNone()
    {
        foreach (var kind in Enum.GetValues<BranchKind>())
        {
            Assert.Equal(kind, BranchKindExtensions.FromApiName(kind.ToApiName()));
        }

        Assert.Null(BranchKindExtensions.FromApiName("xa"));
        Assert.Null(BranchKindExtensions.FromApiName("SAGA"));
    }
}
