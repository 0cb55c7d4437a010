using Serverless.Core.Protocol;
using static Serverless.Core.Tests.Protocol.Tx;

namespace Serverless.Core.Tests.Protocol;

/// <summary>The state record, its classifiers and the timing options.</summary>
public sealed class TransactionStateTests
{
    [Fact]
    public void Create_StartsPreparingWithOneUnvotedBranchPerParticipantInOrder()
    {
        var state = TransactionState.Create("order-1001", [("bank", "{\"a\":1}"), ("inventory", "{\"b\":2}")], T0, VoteTimeout);

        Assert.Equal("order-1001", state.Id);
        Assert.Equal(TransactionStatus.Preparing, state.Status);
        Assert.Null(state.Decision);
        Assert.Null(state.Reason);
        Assert.Equal(T0, state.CreatedAt);
        Assert.Equal(T0 + VoteTimeout, state.Deadline);
        Assert.Null(state.DecidedAt);
        Assert.Null(state.CompletedAt);
        Assert.Equal([new BranchState(0, "bank", "{\"a\":1}"), new BranchState(1, "inventory", "{\"b\":2}")], state.Branches.AsEnumerable());
        Assert.False(state.AllVoted);
        Assert.False(state.HasPendingPhase2);
    }

    [Fact]
    public void Create_WithoutBranches_Throws()
    {
        Assert.Throws<ArgumentException>(() => TransactionState.Create("tx", Array.Empty<(string, string)>(), T0, VoteTimeout));
    }

    [Fact]
    public void Create_WithoutAnId_Throws()
    {
        Assert.Throws<ArgumentException>(() => TransactionState.Create("", [("bank", "{}")], T0, VoteTimeout));
        Assert.Throws<ArgumentNullException>(() => TransactionState.Create(null!, [("bank", "{}")], T0, VoteTimeout));
    }

    [Theory]
    [InlineData(null, null, Decision.Commit, false)]
    [InlineData(Vote.Yes, null, Decision.Commit, true)]
    [InlineData(Vote.Yes, BranchOutcome.Committed, Decision.Commit, false)]
    [InlineData(Vote.ReadOnly, null, Decision.Commit, false)]
    [InlineData(Vote.No, null, Decision.Commit, false)]
    [InlineData(null, null, Decision.Abort, true)]
    [InlineData(null, BranchOutcome.RolledBack, Decision.Abort, false)]
    [InlineData(Vote.Yes, null, Decision.Abort, true)]
    [InlineData(Vote.Yes, BranchOutcome.RolledBack, Decision.Abort, false)]
    [InlineData(Vote.ReadOnly, null, Decision.Abort, false)]
    [InlineData(Vote.No, null, Decision.Abort, false)]
    public void OwesAcknowledgement_FollowsWhoMayHoldAReservation(Vote? vote, BranchOutcome? outcome, Decision decision, bool owes)
    {
        var branch = new BranchState(0, "bank", "{}", vote, null, outcome);

        Assert.Equal(owes, branch.OwesAcknowledgement(decision));
    }

    [Theory]
    [InlineData(TransactionStatus.Preparing, false, false)]
    [InlineData(TransactionStatus.Committing, false, true)]
    [InlineData(TransactionStatus.Aborting, false, true)]
    [InlineData(TransactionStatus.Committed, true, true)]
    [InlineData(TransactionStatus.Aborted, true, true)]
    public void StatusClassifiers_SayWhetherTerminalAndWhetherDecided(TransactionStatus status, bool terminal, bool decided)
    {
        Assert.Equal(terminal, status.IsTerminal());
        Assert.Equal(decided, status.IsDecided());
    }

    [Fact]
    public void Step_IsChangedOnlyWhenApplied()
    {
        var state = New("bank");

        Assert.True(new CoordinatorStep(state, StepKind.Applied, []).Changed);
        Assert.False(new CoordinatorStep(state, StepKind.Duplicate, []).Changed);
        Assert.False(new CoordinatorStep(state, StepKind.Rejected, [], "no").Changed);
    }

    [Fact]
    public void Phase2RetryDelay_UsesTheConfiguredBaseAndCap()
    {
        var options = new CoordinatorOptions { Phase2RetryBase = TimeSpan.FromMilliseconds(100), Phase2RetryMax = TimeSpan.FromSeconds(1) };

        Assert.Equal(
            new double[] { 100, 200, 400, 800, 1000, 1000 },
            Enumerable.Range(1, 6).Select(a => options.Phase2RetryDelay(a).TotalMilliseconds));
    }

    [Fact]
    public void Phase2RetryDelay_NeverExceedsTheCapEvenWithoutOne()
    {
        var options = new CoordinatorOptions { Phase2RetryBase = TimeSpan.FromSeconds(1), Phase2RetryMax = TimeSpan.MaxValue };

        // The exponent is clamped at 20, so the delay stops growing instead of overflowing.
        Assert.Equal(TimeSpan.FromSeconds(1 << 20), options.Phase2RetryDelay(1000));
    }
}
