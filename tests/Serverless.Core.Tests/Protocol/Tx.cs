using System.Collections.Immutable;
using Serverless.Core.Protocol;

namespace Serverless.Core.Tests.Protocol;

/// <summary>Builds transaction states by driving the real state machine, so tests start from reachable states.</summary>
internal static class Tx
{
    public static readonly DateTimeOffset T0 = new(2026, 11, 24, 10, 0, 0, TimeSpan.Zero);

    public static readonly TimeSpan VoteTimeout = TimeSpan.FromSeconds(30);

    public static readonly CoordinatorOptions Options = new();

    /// <summary>A moment before the deadline, at which ordinary events are applied.</summary>
    public static readonly DateTimeOffset Now = T0.AddSeconds(1);

    public static TransactionState New(params string[] participants) =>
        TransactionState.Create("tx-1", participants.Select((p, i) => (p, $"{{\"n\":{i}}}")), T0, VoteTimeout);

    public static CoordinatorStep Apply(this TransactionState state, CoordinatorEvent evt, DateTimeOffset? now = null) =>
        Coordinator.Apply(state, evt, now ?? Now, Options);

    /// <summary>Applies an event that must change the state, and returns the new state.</summary>
    public static TransactionState Then(this TransactionState state, CoordinatorEvent evt, DateTimeOffset? now = null)
    {
        var step = state.Apply(evt, now);
        Assert.True(step.Kind == StepKind.Applied, $"expected {evt} to apply, got {step.Kind}: {step.Detail}");
        return step.State;
    }

    public static TransactionState Votes(this TransactionState state, params Vote[] votes)
    {
        for (var i = 0; i < votes.Length; i++)
        {
            state = state.Then(new VoteCast(i, votes[i], votes[i] == Vote.No ? "refused" : null));
        }

        return state;
    }

    public static TransactionState AfterDeadline(this TransactionState state) =>
        state.Then(new VoteDeadlinePassed(), state.Deadline);

    /// <summary>Compares commands as a sequence (ImmutableArray's own equality compares array references).</summary>
    public static void AssertCommands(ImmutableArray<CoordinatorCommand> actual, params CoordinatorCommand[] expected) =>
        Assert.Equal(expected, actual.AsEnumerable());

    public static SchedulePhase2Retry Retry(int attempt) => new(attempt, Options.Phase2RetryDelay(attempt));

    /// <summary>The saga phase's timer of a saga phase that began at <paramref name="began"/>.</summary>
    public static ScheduleSagaPhaseLimit SagaLimit(DateTimeOffset began) => new(began + Options.SagaPhaseLimit);

    public static void AssertUnchanged(CoordinatorStep step, TransactionState before, StepKind kind)
    {
        Assert.Equal(kind, step.Kind);
        Assert.Same(before, step.State);
        Assert.False(step.Changed);
    }

    public static void AssertRejected(CoordinatorStep step, TransactionState before, string detailFragment)
    {
        AssertUnchanged(step, before, StepKind.Rejected);
        Assert.Empty(step.Commands);
        Assert.Contains(detailFragment, step.Detail, StringComparison.Ordinal);
    }
}
