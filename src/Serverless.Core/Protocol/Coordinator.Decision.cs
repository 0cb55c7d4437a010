using System.Collections.Immutable;

namespace Serverless.Core.Protocol;

/// <summary>The decision and phase 2: what a decided transaction owes, when it is complete, and the step helpers.</summary>
public static partial class Coordinator
{
    /// <summary>
    /// The decision of a transaction whose only branch voted <paramref name="vote"/> (the one-phase optimisation: the
    /// participant records it itself): the coordinator's own rule applied to that one vote, so that no participant keeps a
    /// copy of it. Yes or ReadOnly commits; No aborts, with the reason a vote No gives.
    /// </summary>
    public static DecisionRecord DecideOnePhase(string transactionId, string participant, Vote vote, string? reason, DateTimeOffset now)
    {
        var state = TransactionState.Create(transactionId, [(participant, "{}")], now, TimeSpan.FromSeconds(1));
        var step = Apply(state, new VoteCast(0, vote, reason, participant), now, OnePhaseOptions);
        return DecisionRecord.Of(step.State);
    }

    private static readonly CoordinatorOptions OnePhaseOptions = new();

    private static CoordinatorStep Decide(TransactionState state, Decision decision, string? reason, DateTimeOffset now, CoordinatorOptions options)
    {
        var decided = state with
        {
            Status = decision == Decision.Commit ? TransactionStatus.Committing : TransactionStatus.Aborting,
            Decision = decision,
            Reason = reason,
            DecidedAt = now,

            // A saga action took effect before the decision: under Commit its branch is finished.
            Branches = decision == Decision.Commit
                ? [.. state.Branches.Select(b => b.IsSaga ? b with { Outcome = BranchOutcome.Committed } : b)]
                : state.Branches,
        };
        var commands = DecisionCommands(decided);
        decided = CompleteIfDone(decided, now);

        // Phase 2 needs a durable retry timer (I7). The vote-deadline timer, still to fire, re-sends whatever is
        // unacknowledged then (OnDeadline) and starts the retries, so when it is due soon enough it serves as the
        // first retry and saves a timer per transaction; a lost command is then retried at the deadline instead.
        var deadlineServesAsRetry = now < state.Deadline && state.Deadline - now <= 3 * options.Phase2RetryDelay(1);
        if (!decided.Status.IsTerminal() && !deadlineServesAsRetry)
        {
            commands = commands.Add(new SchedulePhase2Retry(1, options.Phase2RetryDelay(1)));
        }

        return Applied(decided, commands);
    }

    /// <summary>
    /// The phase-2 commands a decided transaction still owes: a commit to every unacknowledged Yes voter,
    /// or a rollback to every unacknowledged branch that did not vote No or ReadOnly (a branch that never
    /// voted gets one too, so that a late prepare reserves nothing, I6) and to every uncompensated saga branch.
    /// </summary>
    private static ImmutableArray<CoordinatorCommand> DecisionCommands(TransactionState state)
    {
        if (state.Decision is not { } decision)
        {
            return [];
        }

        return [.. state.Branches.Where(b => b.OwesAcknowledgement(decision))
            .Select(b => decision == Decision.Commit
                ? (CoordinatorCommand)new SendCommit(b.Index)
                : new SendRollback(b.Index))];
    }

    private static ImmutableArray<CoordinatorCommand> Phase2Commands(TransactionState state, int nextAttempt, CoordinatorOptions options)
    {
        var commands = DecisionCommands(state);
        return commands.IsEmpty
            ? commands
            : commands.Add(new SchedulePhase2Retry(nextAttempt, options.Phase2RetryDelay(nextAttempt)));
    }

    private static TransactionState CompleteIfDone(TransactionState state, DateTimeOffset now)
    {
        if (state.Status.IsTerminal() || state.Decision is null || state.HasPendingPhase2)
        {
            return state;
        }

        return state with
        {
            Status = state.Decision == Decision.Commit ? TransactionStatus.Committed : TransactionStatus.Aborted,
            CompletedAt = now,
        };
    }

    private static bool TryGetBranch(TransactionState state, int index, out BranchState branch)
    {
        if (index >= 0 && index < state.Branches.Length)
        {
            branch = state.Branches[index];
            return true;
        }

        branch = null!;
        return false;
    }

    /// <summary>
    /// Null when a reply about <paramref name="branch"/> comes from its own participant (or from this app, unsigned: null);
    /// else what to reject: each participant signs with its own key, so one participant's reply never counts for another's branch.
    /// </summary>
    private static string? NotFromItsParticipant(BranchState branch, string? sender) =>
        sender is null || sender == branch.Participant ? null : $"branch {branch.Index} of '{branch.Participant}' came from '{sender}'";

    private static TransactionState WithBranch(TransactionState state, BranchState branch) =>
        state with { Branches = state.Branches.SetItem(branch.Index, branch) };

    private static CoordinatorStep Applied(TransactionState state, ImmutableArray<CoordinatorCommand> commands) =>
        new(state, StepKind.Applied, commands);

    private static CoordinatorStep Duplicate(TransactionState state, ImmutableArray<CoordinatorCommand> commands) =>
        new(state, StepKind.Duplicate, commands);

    private static CoordinatorStep Reject(TransactionState state, string detail) =>
        new(state, StepKind.Rejected, [], detail);
}
