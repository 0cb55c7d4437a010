using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Serverless.Core.Protocol;

namespace Serverless.Core.Tests.Simulation;

/// <summary>
/// Transactions mixing 2PC, TCC and saga branches over the adversarial network. A saga branch's service is modelled as a
/// payment service with idempotency keys (<see cref="SagaAccount"/>): an action applies at most once per key, its
/// compensation undoes it or, arriving first, voids the key so that a late action takes nothing; it may fail a few times.
/// </summary>
/// <remarks>
/// Checked at every step (<see cref="CoordinatorInvariants"/>, <see cref="World"/>): no saga action runs before every
/// prepared branch voted Yes, nor before every earlier saga action took effect, nor twice; Commit finishes the saga
/// branches and sends them nothing; Abort compensates every saga branch; a heuristic outcome is exactly a compensation that
/// failed often enough and is not done yet. Checked at quiescence: under Commit every 2PC/TCC branch committed and every
/// saga action applied exactly once and never compensated; under Abort nothing committed and every saga action's net
/// effect is zero.
/// </remarks>
public sealed class SagaProperties
{
    [Property(MaxTest = 5000)]
    public Property MixedTransactions_AnyInterleaving_FollowedByFairDelivery_KeepWhatEachKindPromises() =>
        Prop.ForAll(Scenarios.AdversarialWithSagas, scenario =>
        {
            World.RunToQuiescence(scenario);
        });

    [Property(MaxTest = 1000)]
    public Property MixedTransactions_WillingParticipantsAndServices_WithoutDeadlineOrAbort_AlwaysCommit() =>
        Prop.ForAll(Scenarios.WillingWithSagas, scenario =>
        {
            var world = World.RunToQuiescence(scenario);
            Assert.Equal(TransactionStatus.Committed, world.State.Status);
            Assert.All(world.Sagas.OfType<SagaAccount>(), s => Assert.Equal((SagaKeyState.Applied, 1, 0), (s.State, s.Applications, s.Compensations)));
        });

    [Fact]
    public void TheMixedGenerator_ReachesEverySagaOutcome()
    {
        // A guard on the generator, not on the coordinator: the properties above are only as strong as what they reach.
        var reached = new HashSet<string>();
        var scenarios = Scenarios.AdversarialWithSagas.Generator.Sample(400, new Rnd(20261124UL), 30);
        Assert.Equal(400, scenarios.Length);
        foreach (var scenario in scenarios)
        {
            var world = World.RunToQuiescence(scenario);

            reached.Add(world.State.Status.ToString());
            foreach (var saga in world.Sagas.OfType<SagaAccount>())
            {
                reached.Add(saga.State.ToString());
            }

            if (world.HeuristicSeen)
            {
                reached.Add("heuristic");
            }

            if (world.Sagas.Any(s => s is { ReportedUnknown: true }))
            {
                reached.Add("answer lost");
            }

            if (world.State.Reason?.StartsWith("the saga actions did not finish", StringComparison.Ordinal) == true)
            {
                reached.Add("saga phase limit");
            }
        }

        Assert.Superset(
            new HashSet<string> { "Committed", "Aborted", "Applied", "Declined", "Compensated", "Voided", "heuristic", "answer lost", "saga phase limit" },
            reached);
    }

    [Fact]
    public void CrashAfterPersistingTheLastPreparedVote_LosesTheSagaAction_TheRedeliveredVoteRunsItAgain()
    {
        // The vote of p0 is applied and persisted, the RunSagaAction it caused is lost in the crash, and the vote stays in
        // the queue. Only its redelivery can start the action again (the fix in OnVote); without it the deadline aborts.
        var world = World.RunToQuiescence(new Scenario(
            [Behaviour.Yes, Behaviour.Yes],
            Scenario.AllPrepares,
            [new NetworkStep(NetworkAction.Deliver, 0, 0), new NetworkStep(NetworkAction.CrashAfterPersist, 0, 0)],
            Kinds: [BranchKind.TwoPhase, BranchKind.Saga]));
        Assert.Equal(TransactionStatus.Committed, world.State.Status);
        Assert.Equal(1, world.Sagas[1]!.Applications);
    }

    [Fact]
    public void SagaActionDeclined_AbortsTheTransaction_CompensatesTheEarlierActionAndVoidsTheLaterOne()
    {
        // tcc, saga (applies), saga (declines), saga (never reached): the decline aborts; the first is refunded, the third voided.
        var world = World.RunToQuiescence(new Scenario(
            [Behaviour.Yes, Behaviour.Yes, Behaviour.No, Behaviour.Yes],
            Scenario.AllPrepares,
            [],
            Kinds: [BranchKind.Tcc, BranchKind.Saga, BranchKind.Saga, BranchKind.Saga]));
        Assert.Equal(TransactionStatus.Aborted, world.State.Status);
        Assert.Equal("saga action of 'p2' was not applied: card declined", world.State.Reason);
        Assert.Equal(
            [SagaKeyState.Compensated, SagaKeyState.Declined, SagaKeyState.Voided],
            world.Sagas.OfType<SagaAccount>().Select(s => s.State));
    }

    [Fact]
    public void DeadlineWhileTheSagaActionIsInFlight_TheCompensationArrivesFirst_SoTheLateActionIsRefused()
    {
        // In flight after the deadline's Abort: RunSagaAction(0), SendRollback(0), the retry timer. The compensation is
        // delivered first and voids the key; the action that arrives afterwards takes nothing and answers No.
        var world = new World(new Scenario(
            [Behaviour.Yes],
            Scenario.AllPrepares,
            [new NetworkStep(NetworkAction.FireDeadline, 0, 1), new NetworkStep(NetworkAction.Deliver, 1, 0)],
            Kinds: [BranchKind.Saga]));

        world.RunScript();
        Assert.Equal(SagaKeyState.Voided, world.Sagas[0]!.State);
        world.RunFairDelivery();

        world.CheckQuiescentOutcome();
        Assert.Equal(TransactionStatus.Aborted, world.State.Status);
        Assert.Equal((SagaKeyState.Voided, 0), (world.Sagas[0]!.State, world.Sagas[0]!.Applications));
        Assert.Equal(Vote.No, world.State.Branches[0].Vote);
    }

    [Fact]
    public void SagaPhaseLimitPassingWhileTheActionIsInFlight_Aborts_AndTheActionArrivingLaterIsUndone()
    {
        // 2PC p0 votes Yes, which starts the action of p1 and sets the saga phase's timer; the timer fires before the action
        // arrives. The abort names the action; fair delivery then brings the action (oldest first) and its compensation.
        var world = new World(new Scenario(
            [Behaviour.Yes, Behaviour.Yes],
            Scenario.AllPrepares,
            [new NetworkStep(NetworkAction.Deliver, 0, 0), new NetworkStep(NetworkAction.Deliver, 0, 0), new NetworkStep(NetworkAction.FireSagaLimit, 0, 1)],
            Kinds: [BranchKind.TwoPhase, BranchKind.Saga]));

        world.RunScript();
        Assert.True(world.SagaLimitFired);
        Assert.Equal("the saga actions did not finish within 10 s of the first: no answer yet from 'p1'", world.State.Reason);
        world.RunFairDelivery();

        world.CheckQuiescentOutcome();
        Assert.Equal(TransactionStatus.Aborted, world.State.Status);
        Assert.Equal(0, world.Sagas[1]!.NetEffect);
    }

    [Fact]
    public void SagaActionWhoseAnswerIsLost_IsReportedNotApplied_AndItsEffectIsStillCompensated()
    {
        // The charge went through but the call timed out: the engine reports "not applied", which aborts; the compensation
        // is sent to the saga branch all the same (whatever its vote) and refunds the charge.
        var world = World.RunToQuiescence(new Scenario([Behaviour.Yes, Behaviour.TimesOut], Scenario.AllPrepares, [], Kinds: [BranchKind.TwoPhase, BranchKind.Saga]));
        Assert.Equal(TransactionStatus.Aborted, world.State.Status);
        Assert.Equal(Vote.No, world.State.Branches[1].Vote);
        Assert.Equal((SagaKeyState.Compensated, 1, 1), (world.Sagas[1]!.State, world.Sagas[1]!.Applications, world.Sagas[1]!.Compensations));
    }

    [Fact]
    public void CompensationFailingPastTheThreshold_IsAHeuristicOutcome_UntilARetrySucceeds()
    {
        // saga (applies, its refund fails 4 times), saga (declines): the abort's compensation of p0 is retried on the
        // phase-2 timer; after the third failure the branch is a heuristic outcome, cleared when the refund goes through.
        var world = World.RunToQuiescence(new Scenario(
            [Behaviour.Yes, Behaviour.No],
            Scenario.AllPrepares,
            [],
            Kinds: [BranchKind.Saga, BranchKind.Saga],
            CompensationFailures: [4, 0]));
        Assert.True(world.HeuristicSeen);
        Assert.Equal(TransactionStatus.Aborted, world.State.Status);
        Assert.Equal(4, world.State.Branches[0].CompensationFailures);
        Assert.Null(world.State.Branches[0].Heuristic);
        Assert.Equal((SagaKeyState.Compensated, 0), (world.Sagas[0]!.State, world.Sagas[0]!.NetEffect));
    }
}
