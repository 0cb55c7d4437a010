using Serverless.Core.Protocol;
using static Serverless.Core.Tests.Protocol.Tx;

namespace Serverless.Core.Tests.Protocol;

/// <summary>The two durable timers: the vote deadline and the phase-2 retry.</summary>
public sealed class CoordinatorTimerTests
{
    [Fact]
    public void Deadline_BeforeItIsDue_ChangesNothingAndSchedulesItselfAgainForTheRemainder()
    {
        var state = New("bank");

        var step = state.Apply(new VoteDeadlinePassed(), state.Deadline.AddSeconds(-3));

        Assert.Equal(StepKind.Duplicate, step.Kind);
        Assert.Same(state, step.State);
        Assert.Equal(new ScheduleVoteDeadline(TimeSpan.FromSeconds(3)), Assert.Single(step.Commands));
    }

    [Fact]
    public void Deadline_WhenDueWhilePreparing_AbortsNamingTheParticipantsThatDidNotVote()
    {
        var state = New("bank", "inventory", "orders").Then(new VoteCast(0, Vote.Yes));

        var step = state.Apply(new VoteDeadlinePassed(), state.Deadline);

        Assert.Equal(StepKind.Applied, step.Kind);
        Assert.Equal(TransactionStatus.Aborting, step.State.Status);
        Assert.Equal(Decision.Abort, step.State.Decision);
        Assert.Equal("vote deadline passed without a vote from 'inventory', 'orders'", step.State.Reason);
        Assert.Equal(state.Deadline, step.State.DecidedAt);
        AssertCommands(step.Commands, new SendRollback(0), new SendRollback(1), new SendRollback(2), Retry(1));
    }

    [Fact]
    public void Deadline_WhilePreparingWithEveryVoteIn_AbortsWithAPlainReason()
    {
        // Not reachable through votes (the last vote decides), built by hand to pin the wording.
        var state = New("bank");
        state = state with { Branches = state.Branches.SetItem(0, state.Branches[0] with { Vote = Vote.ReadOnly }) };

        var step = state.Apply(new VoteDeadlinePassed(), state.Deadline.AddMinutes(1));

        Assert.Equal("vote deadline passed", step.State.Reason);
        Assert.Equal(TransactionStatus.Aborted, step.State.Status);
        Assert.Empty(step.Commands);
    }

    [Theory]
    [InlineData(30, false)] // due in 29 s, within 3 x the 10 s retry delay: the deadline is the first retry
    [InlineData(31, false)]
    [InlineData(32, true)] // due in 31 s: a retry timer of its own
    [InlineData(300, true)]
    public void Decision_SchedulesItsOwnRetryTimer_OnlyWhenTheDeadlineIsNotDueWithinThreeRetryDelays(int timeoutSeconds, bool ownRetry)
    {
        var state = TransactionState.Create("tx-1", [("bank", "{}"), ("bank", "{}")], T0, TimeSpan.FromSeconds(timeoutSeconds));

        var commit = state.Then(new VoteCast(0, Vote.Yes)).Apply(new VoteCast(1, Vote.Yes));
        var abort = state.Apply(new AbortRequested(null));

        Assert.Equal(ownRetry, commit.Commands.Contains(Retry(1)));
        Assert.Equal(ownRetry, abort.Commands.Contains(Retry(1)));

        // Without one, the deadline re-sends what is still unacknowledged when it fires, and starts the retries.
        var atDeadline = commit.State.Apply(new VoteDeadlinePassed(), state.Deadline);
        AssertCommands(atDeadline.Commands, new SendCommit(0), new SendCommit(1), Retry(1));
    }

    [Fact]
    public void Deadline_AfterACommitDecision_ReissuesThePendingCommitsAsABackstop()
    {
        var state = New("bank", "inventory", "orders").Votes(Vote.Yes, Vote.ReadOnly, Vote.Yes)
            .Then(new BranchAcknowledged(0, BranchOutcome.Committed));

        var step = state.Apply(new VoteDeadlinePassed(), state.Deadline);

        AssertUnchanged(step, state, StepKind.Duplicate);
        AssertCommands(step.Commands, new SendCommit(2), Retry(1));
    }

    [Fact]
    public void Deadline_AfterAnAbortDecision_ReissuesThePendingRollbacksAsABackstop()
    {
        var state = New("bank", "inventory", "orders").Votes(Vote.Yes, Vote.No);

        var step = state.Apply(new VoteDeadlinePassed(), state.Deadline);

        AssertUnchanged(step, state, StepKind.Duplicate);
        AssertCommands(step.Commands, new SendRollback(0), new SendRollback(2), Retry(1));
    }

    [Fact]
    public void Deadline_Redelivered_AfterItAborted_ReissuesTheRollbacks()
    {
        var state = New("bank", "inventory").AfterDeadline();

        var step = state.Apply(new VoteDeadlinePassed(), state.Deadline.AddSeconds(5));

        AssertUnchanged(step, state, StepKind.Duplicate);
        AssertCommands(step.Commands, new SendRollback(0), new SendRollback(1), Retry(1));
    }

    [Theory]
    [InlineData(Vote.Yes)]
    [InlineData(Vote.No)]
    public void Deadline_WhenTerminal_DoesNothing(Vote vote)
    {
        var state = New("bank").Votes(vote);
        if (vote == Vote.Yes)
        {
            state = state.Then(new BranchAcknowledged(0, BranchOutcome.Committed));
        }

        Assert.True(state.Status.IsTerminal());

        var step = state.Apply(new VoteDeadlinePassed(), state.Deadline);

        AssertUnchanged(step, state, StepKind.Duplicate);
        Assert.Empty(step.Commands);
    }

    [Fact]
    public void Retry_WhileCommitting_ResendsThePendingCommitsAndSchedulesTheNextAttempt()
    {
        var state = New("bank", "inventory").Votes(Vote.Yes, Vote.Yes).Then(new BranchAcknowledged(1, BranchOutcome.Committed));

        var step = state.Apply(new Phase2RetryDue(1));

        AssertUnchanged(step, state, StepKind.Duplicate);
        AssertCommands(step.Commands, new SendCommit(0), new SchedulePhase2Retry(2, TimeSpan.FromSeconds(20)));
    }

    [Fact]
    public void Retry_WhileAborting_ResendsThePendingRollbacksAndSchedulesTheNextAttempt()
    {
        var state = New("bank", "inventory").Votes(Vote.Yes, Vote.No);

        var step = state.Apply(new Phase2RetryDue(3));

        AssertCommands(step.Commands, new SendRollback(0), new SchedulePhase2Retry(4, TimeSpan.FromSeconds(80)));
    }

    [Theory]
    [InlineData(4, 160)]
    [InlineData(5, 300)]
    [InlineData(50, 300)]
    [InlineData(int.MaxValue - 1, 300)]
    public void Retry_BacksOffExponentiallyUpToTheCap(int attempt, int expectedSeconds)
    {
        var state = New("bank").Votes(Vote.Yes);

        var step = state.Apply(new Phase2RetryDue(attempt));

        Assert.Equal(new SchedulePhase2Retry(attempt + 1, TimeSpan.FromSeconds(expectedSeconds)), step.Commands[^1]);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-7)]
    public void Retry_WithANonPositiveAttempt_SchedulesAttemptTwo(int attempt)
    {
        var state = New("bank").Votes(Vote.Yes);

        var step = state.Apply(new Phase2RetryDue(attempt));

        AssertCommands(step.Commands, new SendCommit(0), Retry(2));
    }

    [Fact]
    public void Retry_UsesTheConfiguredDelays()
    {
        var options = new CoordinatorOptions { Phase2RetryBase = TimeSpan.FromSeconds(1), Phase2RetryMax = TimeSpan.FromSeconds(3) };
        var state = New("bank").Votes(Vote.Yes);

        var second = Coordinator.Apply(state, new Phase2RetryDue(1), Now, options);
        var fourth = Coordinator.Apply(state, new Phase2RetryDue(3), Now, options);

        Assert.Equal(new SchedulePhase2Retry(2, TimeSpan.FromSeconds(2)), second.Commands[^1]);
        Assert.Equal(new SchedulePhase2Retry(4, TimeSpan.FromSeconds(3)), fourth.Commands[^1]);
    }

    [Fact]
    public void Retry_WhenTerminal_DoesNothing()
    {
        var committed = New("bank").Votes(Vote.Yes).Then(new BranchAcknowledged(0, BranchOutcome.Committed));
        var aborted = New("bank", "inventory").Votes(Vote.ReadOnly, Vote.No);

        foreach (var state in new[] { committed, aborted })
        {
            var step = state.Apply(new Phase2RetryDue(4));

            AssertUnchanged(step, state, StepKind.Duplicate);
            Assert.Empty(step.Commands);
        }
    }

    [Fact]
    public void Retry_WhilePreparing_DoesNothing()
    {
        var state = New("bank");

        var step = state.Apply(new Phase2RetryDue(1));

        AssertUnchanged(step, state, StepKind.Duplicate);
        Assert.Empty(step.Commands);
    }
}
