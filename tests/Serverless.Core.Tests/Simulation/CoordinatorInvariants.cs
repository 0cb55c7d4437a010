using Serverless.Core.Participants;
using Serverless.Core.Protocol;

namespace Serverless.Core.Tests.Simulation;

/// <summary>What must hold of every single step the coordinator takes, whatever the interleaving.</summary>
internal static class CoordinatorInvariants
{
    public static void Check(TransactionState before, CoordinatorEvent evt, CoordinatorStep step, IReadOnlyList<BranchRecord?> participants, Action<string> fail)
    {
        var after = step.State;

        if (step.Kind != StepKind.Applied && !ReferenceEquals(before, after))
        {
            fail($"a {step.Kind} step changed the state");
        }

        if (step.Kind == StepKind.Rejected)
        {
            // In a faithful run the only event that can legitimately be refused is a client's abort of a committed transaction.
            if (evt is not AbortRequested || before.Decision != Decision.Commit)
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

        // I4: no Commit unless every branch voted Yes or ReadOnly, at the coordinator and at the participant.
        if (after.Decision == Decision.Commit)
        {
            for (var i = 0; i < after.Branches.Length; i++)
            {
                if (after.Branches[i].Vote is not (Vote.Yes or Vote.ReadOnly) || participants[i]?.Vote is not (Vote.Yes or Vote.ReadOnly))
                {
                    fail($"I4: Commit although branch {i} has vote {after.Branches[i].Vote?.ToString() ?? "none"} and participant record {participants[i]}");
                }
            }
        }

        // The coordinator records exactly what the participants said.
        for (var i = 0; i < after.Branches.Length; i++)
        {
            if (after.Branches[i].Vote is { } vote && participants[i]?.Vote is { } sent && vote != sent)
            {
                fail($"branch {i} recorded as {vote} but its participant voted {sent}");
            }
        }

        foreach (var command in step.Commands)
        {
            // I2: phase-2 commands only after a decision exists in the state that emits them (persisted first).
            var allowed = command switch
            {
                SendPrepare => after.Status == TransactionStatus.Preparing,
                SendCommit c => after.Decision == Decision.Commit && after.Branches[c.Branch].Vote == Vote.Yes,
                SendRollback => after.Decision == Decision.Abort,
                SchedulePhase2Retry r => after.Decision is not null && r.Attempt >= 1 && r.Delay > TimeSpan.Zero,
                _ => false,
            };
            if (!allowed)
            {
                fail($"I2: {command} emitted in state {after.Status} with decision {after.Decision?.ToString() ?? "none"}");
            }
        }
    }
}
