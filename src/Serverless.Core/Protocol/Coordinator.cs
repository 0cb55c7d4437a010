using System.Collections.Immutable;
using System.Globalization;

namespace Serverless.Core.Protocol;

/// <summary>
/// The coordinator's decision logic: a pure function from (state, event) to (next state, commands).
/// </summary>
/// <remarks>
/// <para>The caller persists <see cref="CoordinatorStep.State"/> with a conditional write when the step
/// changed it (the write that records a decision is the commit point, I2), executes the commands, and
/// only then acknowledges the inbound message (I5).</para>
/// <para>Redelivery is the recovery mechanism: when an event is applied again to a state that already
/// reflects it, the step re-issues the commands that event caused the first time, so a crash between
/// persisting and sending loses nothing. Commands are idempotent at their receivers.</para>
/// <para>Presumed abort (I4): a transaction still preparing when its deadline passes is aborted, and
/// under Abort the coordinator waits only for the branches that voted Yes; branches that never voted are
/// sent a rollback so that a late prepare reserves nothing (I6).</para>
/// <para>Branch kinds: every prepared branch (2PC, TCC) is prepared first; only when all voted Yes (or ReadOnly) do the
/// saga branches run their actions, one at a time in request order, each action's result counting as its vote. Commit is
/// decided when the last action was applied, so a saga action never runs for a transaction that a prepared branch
/// refused. Under Abort every saga branch is compensated, whatever this run saw of its action (a compensation arriving
/// before its action cancels it).</para>
/// <para>The saga phase is bounded: the prepared branches hold their reservations or locks while the actions run, so a
/// transaction still preparing <see cref="CoordinatorOptions.SagaPhaseLimit"/> after its first saga action was issued aborts
/// (<see cref="SagaPhaseTimeLimitPassed"/>), as one still preparing at its vote deadline does; the earlier of the two decides.</para>
/// </remarks>
public static partial class Coordinator
{
    /// <summary>
    /// The commands that start a new transaction: a prepare for every prepared branch, or, when there is none, the first saga
    /// action and the saga phase's timer.
    /// </summary>
    public static ImmutableArray<CoordinatorCommand> Start(TransactionState state, CoordinatorOptions options)
    {
        ArgumentNullException.ThrowIfNull(state);
        ArgumentNullException.ThrowIfNull(options);
        return Preparing(state, options);
    }

    /// <summary>
    /// The commands that move an existing transaction forward again after an interruption of unknown extent
    /// (a client repeating its start request, a restart): missing prepares, or the pending phase-2 commands.
    /// </summary>
    public static ImmutableArray<CoordinatorCommand> Resume(TransactionState state, CoordinatorOptions options)
    {
        ArgumentNullException.ThrowIfNull(state);
        ArgumentNullException.ThrowIfNull(options);
        return state.Status switch
        {
            TransactionStatus.Preparing => Preparing(state, options),
            TransactionStatus.Committing or TransactionStatus.Aborting => Phase2Commands(state, 1, options),
            _ => [],
        };
    }

    /// <summary>Applies <paramref name="evt"/> to <paramref name="state"/> at time <paramref name="now"/>.</summary>
    public static CoordinatorStep Apply(TransactionState state, CoordinatorEvent evt, DateTimeOffset now, CoordinatorOptions options)
    {
        ArgumentNullException.ThrowIfNull(state);
        ArgumentNullException.ThrowIfNull(evt);
        ArgumentNullException.ThrowIfNull(options);
        return evt switch
        {
            VoteCast v => OnVote(state, v, now, options),
            BranchAcknowledged a => OnAcknowledged(state, a, now),
            VoteDeadlinePassed => OnDeadline(state, now, options),
            SagaPhaseTimeLimitPassed => OnSagaPhaseTimeLimit(state, now, options),
            AbortRequested r => OnAbortRequested(state, r, now, options),
            Phase2RetryDue r => OnRetry(state, r, options),
            CompensationFailed f => OnCompensationFailed(state, f, options),
            _ => Reject(state, $"unknown event {evt.GetType().Name}"),
        };
    }

    /// <summary>
    /// Replaces the decision of <paramref name="proposed"/>, a step's state whose decision is not recorded yet, with the
    /// durable decision <paramref name="record"/>: the one to carry out, whatever this run proposed (I2). Votes the record
    /// knows and the state does not are taken from it, so that adopting a Commit knows every branch to commit.
    /// </summary>
    /// <returns>A duplicate step when the proposal is the recorded decision; otherwise the state decided as recorded, and its commands.</returns>
    public static CoordinatorStep Adopt(TransactionState proposed, DecisionRecord record, DateTimeOffset now, CoordinatorOptions options)
    {
        ArgumentNullException.ThrowIfNull(proposed);
        ArgumentNullException.ThrowIfNull(record);
        ArgumentNullException.ThrowIfNull(options);
        if (proposed.Decision == record.Decision)
        {
            return Duplicate(proposed, []);
        }

        var branches = proposed.Branches
            .Select(b => b.IsSaga ? b with { Outcome = null } : b)
            .Select(b => b.Vote is null && b.Index < record.Votes.Length && record.Votes[b.Index] is { } vote
                ? b with { Vote = vote }
                : b);
        var undecided = proposed with
        {
            Status = TransactionStatus.Preparing,
            Decision = null,
            Reason = null,
            DecidedAt = null,
            CompletedAt = null,
            Branches = [.. branches],
        };
        return Decide(undecided, record.Decision, record.Reason, now, options);
    }

    /// <summary>The reason recorded when a participant votes No: "participant 'bank' voted No: insufficient funds in 'alice'".</summary>
    public static string NoVoteReason(string participant, string? reason) => reason is { Length: > 0 }
        ? $"participant '{participant}' voted No: {reason}"
        : $"participant '{participant}' voted No";

    /// <summary>The reason recorded when a saga action was not applied: "saga action of 'payments' was not applied: insufficient funds in 'carol'".</summary>
    public static string SagaNotAppliedReason(string participant, string? reason) => reason is { Length: > 0 }
        ? $"saga action of '{participant}' was not applied: {reason}"
        : $"saga action of '{participant}' was not applied";

    /// <summary>
    /// The reason recorded when the saga phase's time limit passed: "the saga actions did not finish within 10 s of the first:
    /// no answer yet from 'payments'".
    /// </summary>
    public static string SagaPhaseTimeLimitReason(TimeSpan limit, string participant) =>
        $"the saga actions did not finish within {limit.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture)} s of the first: no answer yet from '{participant}'";

    /// <summary>What a transaction still preparing waits for: a prepare to every prepared branch that has not voted, or the saga action whose turn it is.</summary>
    private static ImmutableArray<CoordinatorCommand> Preparing(TransactionState state, CoordinatorOptions options) =>
    [
        .. state.Branches.Where(b => !b.IsSaga && b.Vote is null).Select(b => (CoordinatorCommand)new SendPrepare(b.Index)),
        .. SagaActionCommands(state, options),
    ];

    /// <summary>
    /// The saga action whose turn it is, with the saga phase's timer: the timer goes with every action, so that whatever
    /// re-issues a lost action (a redelivered vote, a resume) re-issues a lost timer too; one already set is kept.
    /// </summary>
    private static ImmutableArray<CoordinatorCommand> SagaActionCommands(TransactionState state, CoordinatorOptions options) => state.CurrentSagaAction switch
    {
        null => [],
        { } action when state.SagaPhaseStartedAt is { } started => [new RunSagaAction(action.Index), new ScheduleSagaPhaseLimit(started + options.SagaPhaseLimit)],
        { } action => [new RunSagaAction(action.Index)],
    };

    private static CoordinatorStep OnVote(TransactionState state, VoteCast vote, DateTimeOffset now, CoordinatorOptions options)
    {
        if (!TryGetBranch(state, vote.Branch, out var branch))
        {
            return Reject(state, $"vote for unknown branch {vote.Branch}");
        }

        if (NotFromItsParticipant(branch, vote.Participant) is { } impostor)
        {
            return Reject(state, $"vote for {impostor}");
        }

        if (branch.Vote is { } recorded)
        {
            if (recorded != vote.Vote)
            {
                return Reject(state, $"branch {branch.Index} voted {vote.Vote} after voting {recorded}");
            }

            // A redelivered vote may be the one whose commands were lost in a crash: re-issue them (the phase-2
            // commands, or while preparing the saga action it started; an action is idempotent by its key).
            return state.Status switch
            {
                TransactionStatus.Committing or TransactionStatus.Aborting =>
                    Duplicate(state, Phase2Commands(state, 1, options)),
                TransactionStatus.Preparing => Duplicate(state, SagaActionCommands(state, options)),
                _ => Duplicate(state, []),
            };
        }

        var voted = WithBranch(state, branch with { Vote = vote.Vote, Reason = vote.Reason });
        if (state.Status == TransactionStatus.Preparing)
        {
            if (vote.Vote == Vote.No)
            {
                var reason = branch.IsSaga ? SagaNotAppliedReason(branch.Participant, vote.Reason) : NoVoteReason(branch.Participant, vote.Reason);
                return Decide(voted, Decision.Abort, reason, now, options);
            }

            // The vote that completes the prepared branches, or a saga action's success, starts the next saga action; the first
            // one starts the saga phase, by this caller's clock (the orchestration's, which replays the same).
            if (voted.AllVoted)
            {
                return Decide(voted, Decision.Commit, null, now, options);
            }

            if (voted.CurrentSagaAction is not null && voted.SagaPhaseStartedAt is null)
            {
                voted = voted with { SagaPhaseStartedAt = now };
            }

            return Applied(voted, SagaActionCommands(voted, options));
        }

        if (state.Decision == Decision.Commit)
        {
            // Commit needs every vote, so a first vote after a Commit decision cannot be genuine.
            return Reject(state, $"first vote of branch {branch.Index} arrived after a Commit decision");
        }

        // A late vote under Abort. The branch was already sent a rollback when Abort was decided and stays
        // owed until it acknowledges; re-sending here shortens the wait when that rollback raced the prepare.
        // A late No or ReadOnly means the branch holds nothing and owes nothing: if it was the last one owing,
        // the abort is complete now, since that rollback may have been lost and nothing would re-send it.
        return vote.Vote == Vote.Yes && branch.Outcome is null
            ? Applied(voted, [new SendRollback(branch.Index)])
            : Applied(CompleteIfDone(voted, now), []);
    }

    private static CoordinatorStep OnAcknowledged(TransactionState state, BranchAcknowledged ack, DateTimeOffset now)
    {
        if (!TryGetBranch(state, ack.Branch, out var branch))
        {
            return Reject(state, $"acknowledgement for unknown branch {ack.Branch}");
        }

        if (NotFromItsParticipant(branch, ack.Participant) is { } impostor)
        {
            return Reject(state, $"acknowledgement for {impostor}");
        }

        if (state.Decision is not { } decision)
        {
            return Reject(state, $"branch {branch.Index} acknowledged {ack.Outcome} before any decision");
        }

        var expected = decision == Decision.Commit ? BranchOutcome.Committed : BranchOutcome.RolledBack;
        if (ack.Outcome != expected)
        {
            return Reject(state, $"branch {branch.Index} acknowledged {ack.Outcome} but the decision is {decision}");
        }

        if (decision == Decision.Commit && branch.Vote != Vote.Yes)
        {
            return Reject(state, $"branch {branch.Index} acknowledged a commit it was never sent");
        }

        if (!branch.OwesAcknowledgement(decision))
        {
            // Already acknowledged, or a branch that voted No or ReadOnly and held nothing: its rollback (sent
            // before its vote arrived) confirms nothing new, and a finished transaction's record does not change.
            return Duplicate(state, []);
        }

        var next = WithBranch(state, branch with { Outcome = ack.Outcome, Heuristic = null });
        return Applied(CompleteIfDone(next, now), []);
    }

    private static CoordinatorStep OnAbortRequested(TransactionState state, AbortRequested request, DateTimeOffset now, CoordinatorOptions options)
    {
        return state.Decision switch
        {
            null => Decide(state, Decision.Abort,
                request.Reason is { Length: > 0 } ? $"abort requested: {request.Reason}" : "abort requested", now, options),
            Decision.Abort => Duplicate(state, state.Status.IsTerminal() ? [] : Phase2Commands(state, 1, options)),
            _ => Reject(state, "the transaction is already decided Commit"),
        };
    }

    private static CoordinatorStep OnCompensationFailed(TransactionState state, CompensationFailed failed, CoordinatorOptions options)
    {
        if (!TryGetBranch(state, failed.Branch, out var branch))
        {
            return Reject(state, $"compensation failure for unknown branch {failed.Branch}");
        }

        if (!branch.IsSaga || state.Decision != Decision.Abort || branch.Outcome is not null)
        {
            return Reject(state, $"branch {branch.Index} owes no compensation");
        }

        var failures = branch.CompensationFailures + 1;
        var heuristic = failures >= options.HeuristicAfterFailures
            ? $"compensation failed {failures} times; it is retried until it succeeds, and the action's effect remains until then. Last failure: {failed.Reason}"
            : null;
        return Applied(WithBranch(state, branch with { CompensationFailures = failures, Heuristic = heuristic }), []);
    }
}
