using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Serverless.Core.Protocol;

namespace Serverless.Core.Tests.Simulation;

/// <summary>
/// The coordinator and its participants over a network that duplicates, reorders, delays and loses-until-redelivered
/// every message, with crashes, the deadline and client aborts injected anywhere.
/// </summary>
/// <remarks>
/// Every step is checked against I1, I2 and I4 as it happens (<see cref="CoordinatorInvariants"/>, <see cref="World"/>).
/// Two thirds of the generated transactions mix 2PC, TCC and saga branches; <see cref="SagaProperties"/> has the ones that
/// always do, and what the saga branches promise.
/// </remarks>
public sealed class ProtocolProperties
{
    [Property(MaxTest = 10000)]
    public Property AnyInterleaving_NeverBreaksAtomicityTheDecisionOrPresumedAbort() =>
        Prop.ForAll(Scenarios.Adversarial, scenario =>
        {
            var world = new World(scenario);

            world.RunScript();
        });

    [Property(MaxTest = 10000)]
    public Property AnyInterleaving_FollowedByFairDelivery_EndsTerminalWithNoReservationLeft() =>
        Prop.ForAll(Scenarios.Adversarial, scenario =>
        {
            World.RunToQuiescence(scenario);
        });

    [Fact]
    public void LateNoVote_AfterACrashLostTheRollbackOfTheDeadlineAbort_StillEndsAborted()
    {
        // Shrunk counterexample: the deadline aborts, the crash loses the rollback (the retry timer goes out), then the
        // prepare runs and its No arrives. Before the fix the transaction stayed Aborting for ever.
        var world = World.RunToQuiescence(new Scenario([Behaviour.No], Scenario.AllPrepares, [new NetworkStep(NetworkAction.FireDeadline, 0, 0b100)]));
        Assert.Equal(TransactionStatus.Aborted, world.State.Status);
    }

    [Fact]
    public void LateReadOnlyVote_AfterACrashLostTheRollbackOfAClientAbort_StillEndsAborted()
    {
        var world = World.RunToQuiescence(new Scenario(
            [Behaviour.ReadOnly],
            Scenario.AllPrepares,
            [new NetworkStep(NetworkAction.CrashAfterPersist, 0, 0), new NetworkStep(NetworkAction.RequestAbort, 0, 0b100)]));
        Assert.Equal(TransactionStatus.Aborted, world.State.Status);
    }

    [Property(MaxTest = 2000)]
    public Property WillingParticipants_WithoutDeadlineOrAbort_AlwaysCommit() =>
        Prop.ForAll(Scenarios.Willing, scenario =>
        {
            var world = World.RunToQuiescence(scenario);
            Assert.Equal(TransactionStatus.Committed, world.State.Status);
        });
}
