namespace Serverless.Core.Protocol;

/// <summary>The durable timers' events: the vote deadline, the saga phase's time limit, and the phase-2 retry.</summary>
public static partial class Coordinator
{
    private static CoordinatorStep OnDeadline(TransactionState state, DateTimeOffset now, CoordinatorOptions options)
    {
        if (state.Status == TransactionStatus.Preparing)
        {
            if (now < state.Deadline)
            {
                // Early by this instance's clock: set the timer again rather than drop it, or a transaction
                // whose participant never votes would stay Preparing forever.
                return new CoordinatorStep(state, StepKind.Duplicate, [new ScheduleVoteDeadline(state.Deadline - now)], "the vote deadline has not passed yet");
            }

            var saga = state.CurrentSagaAction;
            var missing = string.Join(", ", state.Branches.Where(b => b.Vote is null && (!b.IsSaga || b == saga)).Select(b => $"'{b.Participant}'"));
            var reason = missing.Length > 0
                ? $"vote deadline passed without a vote from {missing}"
                : "vote deadline passed";
            return Decide(state, Decision.Abort, reason, now, options);
        }

        // The deadline doubles as a backstop for a decision whose phase-2 commands were lost.
        return Duplicate(state, state.Status.IsTerminal() ? [] : Phase2Commands(state, 1, options));
    }

    /// <summary>
    /// The saga phase's timer: a transaction still preparing past the limit aborts, every saga branch compensated (the one
    /// whose action is running cancelled, should the action arrive later). Early by this instance's clock, it is set again,
    /// as the vote deadline is. After a decision it does nothing: the deadline and the phase-2 retries are phase 2's backstops.
    /// </summary>
    private static CoordinatorStep OnSagaPhaseTimeLimit(TransactionState state, DateTimeOffset now, CoordinatorOptions options)
    {
        if (state.Status != TransactionStatus.Preparing)
        {
            return Duplicate(state, []);
        }

        if (state.SagaPhaseStartedAt is not { } started || state.CurrentSagaAction is not { } running)
        {
            return new CoordinatorStep(state, StepKind.Duplicate, [], "the saga phase has not begun");
        }

        var due = started + options.SagaPhaseLimit;
        if (now < due)
        {
            return new CoordinatorStep(state, StepKind.Duplicate, [new ScheduleSagaPhaseLimit(due)], "the saga phase's time limit has not passed yet");
        }

        return Decide(state, Decision.Abort, SagaPhaseTimeLimitReason(options.SagaPhaseLimit, running.Participant), now, options);
    }

    private static CoordinatorStep OnRetry(TransactionState state, Phase2RetryDue retry, CoordinatorOptions options) =>
        state.Status is TransactionStatus.Committing or TransactionStatus.Aborting
            ? Duplicate(state, Phase2Commands(state, Math.Max(1, retry.Attempt) + 1, options))
            : Duplicate(state, []);
}
