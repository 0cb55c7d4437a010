using Serverless.Core.Protocol;
using static Serverless.Core.Tests.Protocol.Tx;

namespace Serverless.Core.Tests.Protocol;

/// <summary>
/// The saga phase's time limit: the prepared branches hold their locks while the saga actions run, so a transaction still
/// preparing <see cref="CoordinatorOptions.SagaPhaseLimit"/> after its first action was issued aborts; the earlier of that
/// limit and the vote deadline decides.
/// </summary>
public sealed class CoordinatorSagaPhaseTests
{
    private static readonly DateTimeOffset Began = T0.AddSeconds(3);

    private static readonly DateTimeOffset Due = Began + Options.SagaPhaseLimit;

    /// <summary>orders (2PC), inventory (TCC), payments (saga), payments (saga).</summary>
    private static TransactionState Order(TimeSpan? voteTimeout = null) => TransactionState.Create(
        "tx-1",
        [("orders", "{}", BranchKind.TwoPhase), ("inventory", "{}", BranchKind.Tcc), ("payments", "{\"n\":1}", BranchKind.Saga), ("payments", "{\"n\":2}", BranchKind.Saga)],
        T0,
        voteTimeout ?? VoteTimeout);

    /// <summary>The order whose prepared branches voted Yes, the last at <see cref="Began"/>: the first saga action runs.</summary>
    private static TransactionState InSagaPhase(TimeSpan? voteTimeout = null) =>
        Order(voteTimeout).Then(new VoteCast(0, Vote.Yes), T0.AddSeconds(1)).Then(new VoteCast(1, Vote.Yes), Began);

    [Fact]
    public void TheVoteThatStartsTheFirstSagaAction_BeginsTheSagaPhaseByTheCallersClock_AndSetsItsTimer()
    {
        var state = Order().Then(new VoteCast(0, Vote.Yes), T0.AddSeconds(1));
        Assert.Null(state.SagaPhaseStartedAt);

        var step = state.Apply(new VoteCast(1, Vote.Yes), Began);

        Assert.Equal(Began, step.State.SagaPhaseStartedAt);
        AssertCommands(step.Commands, new RunSagaAction(2), new ScheduleSagaPhaseLimit(Due));
    }

    [Fact]
    public void LaterSagaActions_KeepTheStartOfTheSagaPhase_AndItsDueTime()
    {
        var step = InSagaPhase().Apply(new VoteCast(2, Vote.Yes), Began.AddSeconds(6));

        Assert.Equal(Began, step.State.SagaPhaseStartedAt);
        AssertCommands(step.Commands, new RunSagaAction(3), new ScheduleSagaPhaseLimit(Due));
    }

    [Fact]
    public void ReplayedWithTheSameClock_TheSagaPhaseBeginsAtTheSameTime_AndARedeliveredVoteOrAResumeLaterDoesNotMoveIt()
    {
        // An orchestration's replay applies the same events at the same (recorded) times: the same start, the same timer.
        var first = InSagaPhase();
        var replayed = InSagaPhase();
        Assert.Equal(first.SagaPhaseStartedAt, replayed.SagaPhaseStartedAt);

        var redelivered = first.Apply(new VoteCast(1, Vote.Yes), Began.AddSeconds(7));
        AssertUnchanged(redelivered, first, StepKind.Duplicate);
        AssertCommands(redelivered.Commands, new RunSagaAction(2), new ScheduleSagaPhaseLimit(Due));
        AssertCommands(Coordinator.Resume(first, Options), new RunSagaAction(2), new ScheduleSagaPhaseLimit(Due));
    }

    [Fact]
    public void TransactionOfSagaBranchesOnly_BeginsItsSagaPhaseAtItsCreation()
    {
        var state = TransactionState.Create("tx-1", [("payments", "{}", BranchKind.Saga)], T0, VoteTimeout);

        var step = state.Apply(new SagaPhaseTimeLimitPassed(), T0 + Options.SagaPhaseLimit);

        Assert.Equal(Decision.Abort, step.State.Decision);
        AssertCommands(step.Commands, new SendRollback(0));
    }

    [Fact]
    public void LimitPassedWhileTheFirstActionRuns_AbortsNamingIt_AndCompensatesEverySagaBranch()
    {
        var state = InSagaPhase();

        var step = state.Apply(new SagaPhaseTimeLimitPassed(), Due);

        Assert.Equal(StepKind.Applied, step.Kind);
        Assert.Equal(TransactionStatus.Aborting, step.State.Status);
        Assert.Equal("the saga actions did not finish within 10 s of the first: no answer yet from 'payments'", step.State.Reason);
        Assert.Equal(Due, step.State.DecidedAt);

        // The running action's compensation cancels it should it arrive later; the deadline, due within 3 retry delays, is the first retry.
        AssertCommands(step.Commands, new SendRollback(0), new SendRollback(1), new SendRollback(2), new SendRollback(3));
    }

    [Fact]
    public void LimitPassedWhileTheSecondActionRuns_CompensatesTheAppliedFirstAction_Too()
    {
        var state = InSagaPhase().Then(new VoteCast(2, Vote.Yes), Began.AddSeconds(2));

        var step = state.Apply(new SagaPhaseTimeLimitPassed(), Due.AddSeconds(1));

        Assert.Equal(Decision.Abort, step.State.Decision);
        Assert.Equal(Vote.Yes, step.State.Branches[2].Vote);
        AssertCommands(step.Commands, new SendRollback(0), new SendRollback(1), new SendRollback(2), new SendRollback(3));
    }

    [Fact]
    public void LimitFiringEarlyByThisClock_ChangesNothing_AndSetsItsTimerAgainForItsDueTime()
    {
        var state = InSagaPhase();

        var step = state.Apply(new SagaPhaseTimeLimitPassed(), Due.AddSeconds(-1));

        AssertUnchanged(step, state, StepKind.Duplicate);
        AssertCommands(step.Commands, new ScheduleSagaPhaseLimit(Due));
    }

    [Fact]
    public void LimitBeforeTheSagaPhaseBegan_ChangesNothing()
    {
        var state = Order().Then(new VoteCast(0, Vote.Yes));

        var step = state.Apply(new SagaPhaseTimeLimitPassed(), T0.AddMinutes(5));

        AssertUnchanged(step, state, StepKind.Duplicate);
        Assert.Empty(step.Commands);
    }

    [Fact]
    public void LimitAfterACommitDecision_DoesNothing()
    {
        var committing = InSagaPhase().Then(new VoteCast(2, Vote.Yes)).Then(new VoteCast(3, Vote.Yes));
        Assert.Equal(Decision.Commit, committing.Decision);

        var step = committing.Apply(new SagaPhaseTimeLimitPassed(), Due);

        AssertUnchanged(step, committing, StepKind.Duplicate);
        Assert.Empty(step.Commands);
    }

    [Fact]
    public void LimitAfterAnAbortDecision_DoesNotChangeItsReason()
    {
        var aborting = InSagaPhase().Then(new VoteCast(2, Vote.No, "insufficient funds in 'carol'"));
        var aborted = InSagaPhase().Then(new AbortRequested("client"))
            .Then(new BranchAcknowledged(0, BranchOutcome.RolledBack)).Then(new BranchAcknowledged(1, BranchOutcome.RolledBack))
            .Then(new BranchAcknowledged(2, BranchOutcome.RolledBack)).Then(new BranchAcknowledged(3, BranchOutcome.RolledBack));
        Assert.Equal(TransactionStatus.Aborted, aborted.Status);

        foreach (var state in new[] { aborting, aborted })
        {
            var step = state.Apply(new SagaPhaseTimeLimitPassed(), Due);

            AssertUnchanged(step, state, StepKind.Duplicate);
            Assert.Empty(step.Commands);
        }
    }

    [Fact]
    public void VoteDeadlineBeforeTheLimit_Decides_AndTheLimitLaterDoesNothing()
    {
        // A 12 s vote deadline, the saga phase begun at 3 s: the deadline (12 s) comes before the limit (13 s).
        var state = InSagaPhase(TimeSpan.FromSeconds(12));

        var deadline = state.Apply(new VoteDeadlinePassed(), state.Deadline);
        var limit = deadline.State.Apply(new SagaPhaseTimeLimitPassed(), Due);

        Assert.Equal("vote deadline passed without a vote from 'payments'", deadline.State.Reason);
        AssertUnchanged(limit, deadline.State, StepKind.Duplicate);
        Assert.Empty(limit.Commands);
    }

    [Fact]
    public void LimitBeforeTheVoteDeadline_Decides_AndTheDeadlineLaterOnlyResendsWhatPhaseTwoOwes()
    {
        var state = InSagaPhase(TimeSpan.FromSeconds(60));

        var limit = state.Apply(new SagaPhaseTimeLimitPassed(), Due);
        var deadline = limit.State.Apply(new VoteDeadlinePassed(), state.Deadline);

        Assert.StartsWith("the saga actions did not finish within 10 s", limit.State.Reason, StringComparison.Ordinal);
        AssertCommands(limit.Commands, new SendRollback(0), new SendRollback(1), new SendRollback(2), new SendRollback(3), Retry(1));
        AssertUnchanged(deadline, limit.State, StepKind.Duplicate);
        AssertCommands(deadline.Commands, new SendRollback(0), new SendRollback(1), new SendRollback(2), new SendRollback(3), Retry(1));
    }

    [Fact]
    public void TheLimitIsTheConfiguredOne()
    {
        var options = new CoordinatorOptions { SagaPhaseLimit = TimeSpan.FromSeconds(2.5) };
        var state = InSagaPhase();

        var early = Coordinator.Apply(state, new SagaPhaseTimeLimitPassed(), Began.AddSeconds(2), options);
        var due = Coordinator.Apply(state, new SagaPhaseTimeLimitPassed(), Began.AddSeconds(2.5), options);

        AssertCommands(early.Commands, new ScheduleSagaPhaseLimit(Began.AddSeconds(2.5)));
        Assert.Equal("the saga actions did not finish within 2.5 s of the first: no answer yet from 'payments'", due.State.Reason);
    }

    [Fact]
    public void AdoptingARecordedAbort_KeepsTheStartOfTheSagaPhase()
    {
        var proposed = InSagaPhase().Then(new VoteCast(2, Vote.Yes)).Then(new VoteCast(3, Vote.Yes));
        var record = new DecisionRecord(Decision.Abort, "abort requested", Now, []);

        var step = Coordinator.Adopt(proposed, record, Now, Options);

        Assert.Equal(Decision.Abort, step.State.Decision);
        Assert.Equal(Began, step.State.SagaPhaseStartedAt);
    }
}
