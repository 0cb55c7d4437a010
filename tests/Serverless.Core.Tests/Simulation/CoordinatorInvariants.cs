using Serverless.Core.Participants;
using Serverless.Core.Protocol;

namespace Serverless.Core.Tests.Simulation;

/// <summary>What must hold of every single step the coordinator takes, whatever the interleaving.</summary>
internal static class CoordinatorInvariants
{
    /// <param name="before">The state the event was applied to.</param>
    /// <param name="evt">The event.</param>
    /// <param name="step">The coordinator's step.</param>
    /// <param name="participants">The records of the prepared branches' participants (null for a saga branch).</param>
    /// <param name="sagas">The saga branches' services (null for a prepared branch).</param>
    /// <param name="options">The options the coordinator ran with.</param>
    /// <param name="fail">Reports a violation.</param>
    public static void Check(
        TransactionState before,
        CoordinatorEvent evt,
        CoordinatorStep step,
        IReadOnlyList<BranchRecord?> participants,
        IReadOnlyList<SagaAccount?> sagas,
        CoordinatorOptions options,
        Action<string> fail)
    {
        var after = step.State;

        // What each branch's participant answered: a prepared branch's vote, or a saga action's first result.
        Vote? Answered(int i) => sagas[i] is { } saga ? saga.Answer : participants[i]?.Vote;

        if (step.Kind != StepKind.Applied && !ReferenceEquals(before, after))
        {
            fail($"a {step.Kind} step changed the state");
        }

        if (step.Kind == StepKind.Rejected)
        {
            // In a faithful run the only events that can legitimately be refused are a client's abort of a committed
            // transaction, and a compensation's failure reported after a later attempt succeeded (the network reordered them).
            var legitimate = evt switch
            {
                AbortRequested => before.Decision == Decision.Commit,
                CompensationFailed f => before.Decision == Decision.Abort && before.Branches[f.Branch] is { IsSaga: true, Outcome: BranchOutcome.RolledBack },

                // A saga action whose answer was lost: the engine's "not applied" and the service's real answer (applied)
                // contradict each other, and whichever arrives second is refused.
                VoteCast v => sagas[v.Branch] is { ReportedUnknown: true } && before.Branches[v.Branch].Vote is { } recorded && recorded != v.Vote,
                _ => false,
            };
            if (!legitimate)
            {
                fail($"{evt} was rejected: {step.Detail}");
            }

            if (!step.Commands.IsEmpty)
            {
                fail("a rejected step emitted commands");
            }
        }

        // I2: written once, never changed.
        if (before.Decision is { } decided && (after.Decision != decided || after.DecidedAt != before.DecidedAt || after.Reason != before.Reason))
        {
            fail($"I2: the decision changed from {decided} to {after.Decision?.ToString() ?? "none"}");
        }

        if (before.Status.IsTerminal() && after.Status != before.Status)
        {
            fail($"a terminal transaction moved from {before.Status} to {after.Status}");
        }

        var consistent = after.Status switch
        {
            TransactionStatus.Preparing => after.Decision is null && after.DecidedAt is null,
            TransactionStatus.Committing => after.Decision == Decision.Commit && after.CompletedAt is null,
            TransactionStatus.Aborting => after.Decision == Decision.Abort && after.CompletedAt is null,
            TransactionStatus.Committed => after.Decision == Decision.Commit && after.CompletedAt is not null,
            TransactionStatus.Aborted => after.Decision == Decision.Abort && after.CompletedAt is not null,
            _ => false,
        };
        if (!consistent)
        {
            fail($"I2: status {after.Status} with decision {after.Decision?.ToString() ?? "none"}, decided at {after.DecidedAt}, completed at {after.CompletedAt}");
        }

        if (after.Status.IsTerminal() && after.HasPendingPhase2)
        {
            fail($"I7: {after.Status} although a branch may still hold a reservation and has not acknowledged");
        }

        // I4: a deadline that finds the transaction preparing aborts it.
        if (evt is VoteDeadlinePassed && before.Status == TransactionStatus.Preparing && after.Decision != Decision.Abort)
        {
            fail($"I4: the deadline passed while preparing but the decision is {after.Decision?.ToString() ?? "none"}");
        }

        // The saga phase's time limit: its timer, delivered no earlier than it is due, aborts a transaction still preparing.
        if (evt is SagaPhaseTimeLimitPassed && before.Status == TransactionStatus.Preparing && after.Decision != Decision.Abort)
        {
            fail($"the saga phase's time limit passed while preparing but the decision is {after.Decision?.ToString() ?? "none"}");
        }

        // The saga phase begins once, when the first saga action is issued, and its start never moves.
        if (before.SagaPhaseStartedAt is { } began && after.SagaPhaseStartedAt != began)
        {
            fail($"the saga phase's start moved from {began} to {after.SagaPhaseStartedAt?.ToString() ?? "none"}");
        }

        if (step.Commands.Any(c => c is RunSagaAction)
            && (after.SagaPhaseStartedAt is not { } started || !step.Commands.Contains(new ScheduleSagaPhaseLimit(started + options.SagaPhaseLimit))))
        {
            fail($"a saga action was issued without the saga phase's timer: [{string.Join(", ", step.Commands)}], saga phase began {after.SagaPhaseStartedAt?.ToString() ?? "never"}");
        }

        // I4: no Commit unless every branch voted Yes or ReadOnly, at the coordinator and at the participant.
        if (after.Decision == Decision.Commit)
        {
            for (var i = 0; i < after.Branches.Length; i++)
            {
                if (after.Branches[i].Vote is not (Vote.Yes or Vote.ReadOnly) || Answered(i) is not (Vote.Yes or Vote.ReadOnly))
                {
                    fail($"I4: Commit although branch {i} has vote {after.Branches[i].Vote?.ToString() ?? "none"} and participant record {participants[i]?.ToString() ?? sagas[i]?.ToString()}");
                }

                // A saga action took effect before the decision: its branch is finished at Commit, and is sent nothing.
                if (after.Branches[i].IsSaga && (after.Branches[i].Vote != Vote.Yes || after.Branches[i].Outcome != BranchOutcome.Committed))
                {
                    fail($"Commit although saga branch {i} has vote {after.Branches[i].Vote?.ToString() ?? "none"} and outcome {after.Branches[i].Outcome?.ToString() ?? "none"}");
                }
            }
        }

        // The coordinator records exactly what the participants said.
        for (var i = 0; i < after.Branches.Length; i++)
        {
            if (after.Branches[i].Vote is { } vote && Answered(i) is { } sent && vote != sent && !(vote == Vote.No && sagas[i] is { ReportedUnknown: true }))
            {
                fail($"branch {i} recorded as {vote} but its participant voted {sent}");
            }
        }

        CheckSagaBranches(before, after, sagas, options, fail);

        foreach (var command in step.Commands)
        {
            // I2: phase-2 commands only after a decision exists in the state that emits them (persisted first).
            var allowed = command switch
            {
                SendPrepare c => after.Status == TransactionStatus.Preparing && !after.Branches[c.Branch].IsSaga,
                RunSagaAction a => SagaActionMayRun(after, a.Branch),
                SendCommit c => after.Decision == Decision.Commit && after.Branches[c.Branch] is { Vote: Vote.Yes, IsSaga: false },
                SendRollback => after.Decision == Decision.Abort,
                SchedulePhase2Retry r => after.Decision is not null && r.Attempt >= 1 && r.Delay > TimeSpan.Zero,
                ScheduleSagaPhaseLimit l => after.Status == TransactionStatus.Preparing && l.Due == after.SagaPhaseStartedAt + options.SagaPhaseLimit,
                _ => false,
            };
            if (!allowed)
            {
                fail($"I2: {command} emitted in state {after.Status} with decision {after.Decision?.ToString() ?? "none"}");
            }
        }

        // One saga action at a time.
        if (step.Commands.OfType<RunSagaAction>().Select(a => a.Branch).Distinct().Count() > 1)
        {
            fail($"more than one saga action started at once: {string.Join(", ", step.Commands.OfType<RunSagaAction>())}");
        }

        // The step that decides Abort compensates every saga branch, whether or not its action ran (a void cancels it).
        if (before.Decision is null && after.Decision == Decision.Abort)
        {
            foreach (var saga in after.Branches.Where(b => b.IsSaga && b.Outcome is null))
            {
                if (!step.Commands.Contains(new SendRollback(saga.Index)))
                {
                    fail($"Abort decided without compensating saga branch {saga.Index}");
                }
            }
        }
    }

    /// <summary>
    /// A saga action may start only while preparing, once every prepared branch voted Yes or ReadOnly and every earlier
    /// saga action was applied, and only for a branch whose action has no result yet (a repeat of the one running now).
    /// </summary>
    private static bool SagaActionMayRun(TransactionState state, int branch)
    {
        if (state.Status != TransactionStatus.Preparing || state.Branches[branch] is not { IsSaga: true, Vote: null })
        {
            return false;
        }

        return state.Branches.All(b => b.IsSaga
            ? b.Index >= branch || b.Vote == Vote.Yes
            : b.Vote is Vote.Yes or Vote.ReadOnly);
    }

    private static void CheckSagaBranches(TransactionState before, TransactionState after, IReadOnlyList<SagaAccount?> sagas, CoordinatorOptions options, Action<string> fail)
    {
        foreach (var branch in after.Branches)
        {
            if (!branch.IsSaga)
            {
                if (branch.CompensationFailures != 0 || branch.Heuristic is not null)
                {
                    fail($"prepared branch {branch.Index} has compensation failures or a heuristic outcome");
                }

                continue;
            }

            // A heuristic outcome is exactly an uncompensated saga branch under Abort whose compensation failed often enough.
            var heuristic = after.Decision == Decision.Abort && branch.Outcome is null && branch.CompensationFailures >= options.HeuristicAfterFailures;
            if (heuristic != branch.Heuristic is not null)
            {
                fail($"saga branch {branch.Index} has heuristic '{branch.Heuristic}' after {branch.CompensationFailures} failures with outcome {branch.Outcome?.ToString() ?? "none"}");
            }

            // Compensated only by the participant's word, and only under Abort.
            if (branch.Outcome == BranchOutcome.RolledBack
                && (after.Decision != Decision.Abort || sagas[branch.Index]?.State is not (SagaKeyState.Compensated or SagaKeyState.Voided or SagaKeyState.Declined)))
            {
                fail($"saga branch {branch.Index} recorded as compensated under {after.Decision?.ToString() ?? "no decision"} while its service is {sagas[branch.Index]}");
            }

            if (branch.Outcome == BranchOutcome.Committed && after.Decision != Decision.Commit)
            {
                fail($"saga branch {branch.Index} recorded as Committed under {after.Decision?.ToString() ?? "no decision"}");
            }

            if (before.Branches[branch.Index].Outcome is { } was && branch.Outcome != was)
            {
                fail($"saga branch {branch.Index}'s outcome changed from {was} to {branch.Outcome?.ToString() ?? "none"}");
            }
        }
    }
}
