using Microsoft.DurableTask;
using Serverless.Core.Protocol;
using Serverless.Functions.Participants;

namespace Serverless.Functions.Coordination;

/// <summary>The compensating path of a run that failed.</summary>
public sealed partial class TwoPhaseCommitOrchestration
{
    /// <summary>Longest exception message kept in a decision's reason.</summary>
    private const int MaxFailureLength = 300;

    /// <summary>How the reason of an Abort proposed by a failed run begins.</summary>
    public const string FailureReasonPrefix = "orchestration failed: ";

    /// <summary>The reason recorded with the Abort a failed run proposes: "orchestration failed: InvalidDataException: …".</summary>
    public static string FailureReason(Exception failure) => $"{FailureReasonPrefix}{Describe(failure)}";

    /// <summary>
    /// Taken once, when the run fails with an exception that is not the engine's own (a bug, an input or event payload it
    /// cannot handle): makes sure a decision is recorded (with none taken, Abort is proposed, first writer wins, so a
    /// decision recorded meanwhile is the one carried out) and that phase 2 of the recorded decision has been sent to every
    /// branch that may hold a reservation, then raises a Critical operator alert naming the exception, the decision and
    /// every branch. The instance then ends Failed, and <see cref="EndedTransactions"/> runs it again at once as a run that
    /// finishes it: the recorded decision carried out to every branch, retried until each acknowledged, saga compensations
    /// included (I10). Each activity here is tried within its retry policy only, so a poison input fails fast instead of
    /// looping. Never throws but the engine's own exceptions: what it cannot do is in the alert.
    /// </summary>
    private async Task CompensateAsync(Exception failure)
    {
        var reason = FailureReason(failure);
        TransactionState? state = _state;
        DecisionRecord? recorded = null;
        var sent = 0;
        IReadOnlyList<string> notCompensated = [];
        string compensation;
        try
        {
            if (state is null)
            {
                // The input could not be run: nothing was sent, so no branch can hold anything of this run. Abort is recorded
                // so that an inquiry or the in-doubt resolver answers from the record.
                (recorded, _, _) = await SendOnceAsync(new DecisionRecord(Decision.Abort, reason, Now, []), []);
            }
            else if (state.Decision is null)
            {
                var aborting = Coordinator.Apply(state, new AbortRequested(), Now, _options);
                var decided = aborting.State with { Reason = reason };
                (recorded, sent, notCompensated) = await SendOnceAsync(DecisionRecord.Of(decided), Phase2(aborting.Commands));
                state = decided;
                if (recorded is { Decision: Decision.Commit })
                {
                    // Decided meanwhile (this run's own record before it failed, a one-phase branch): carry that out.
                    var adopted = Coordinator.Adopt(decided, recorded, Now, _options);
                    state = adopted.State;
                    (_, sent, notCompensated) = await SendOnceAsync(recorded, Phase2(adopted.Commands));
                }
            }
            else
            {
                // The state's decision is the recorded one (adopted before it was acted on): send what is still owed.
                recorded = DecisionRecord.Of(state);
                var owed = Phase2(Coordinator.Resume(state, _options));
                if (owed.Count > 0)
                {
                    (_, sent, notCompensated) = await SendOnceAsync(recorded, owed);
                }
            }

            compensation = recorded is null
                ? "no activity could record the decision; the finishing run records it (or presumes abort) and finishes the branches"
                : $"{recorded.Decision} recorded; phase 2 sent to {sent} branch(es)" + (notCompensated.Count == 0 ? string.Empty
                    : $"; not compensated yet: {string.Join("; ", notCompensated)}");
            if (state is not null)
            {
                _state = state;
                Publish();
            }
        }
        catch (Exception ex) when (!IsEngineControlFlow(ex))
        {
            compensation = $"compensation failed ({Describe(ex)}); the finishing run finishes the branches";
        }

        _logger.OrchestrationFailed(
            failure,
            _context.InstanceId,
            Describe(failure),
            recorded?.Decision.ToString() ?? "none",
            compensation,
            state is null ? "unknown (the input could not be read)" : string.Join("; ", state.Branches.Select(b =>
                $"{b.Index} {b.Participant}{(b.IsSaga ? " (saga)" : string.Empty)}: vote {b.Vote?.ToString() ?? "none"}, outcome {b.Outcome?.ToString() ?? "none"}")));
    }

    /// <summary>
    /// Records <paramref name="proposed"/> through the phase-2 activities of <paramref name="phase2"/> (through
    /// <c>RecordDecision</c> when there are none), each tried within its retry policy only, and waits for all of them.
    /// Returns the recorded decision, if an activity could tell it, how many branches were sent their command, and the saga
    /// compensations that failed ("branch 2 (payments, key tx.2): …").
    /// </summary>
    private async Task<(DecisionRecord? Recorded, int Sent, IReadOnlyList<string> NotCompensated)> SendOnceAsync(DecisionRecord proposed, IReadOnlyList<BranchCommand> phase2)
    {
        if (phase2.Count == 0)
        {
            return (await RecordDecisionAsync(proposed), 0, []);
        }

        List<Task<Phase2Result>> tasks = [.. phase2.Select(c => SchedulePhase2(c, proposed))];
        try
        {
            await Task.WhenAll(tasks);
        }
        catch (TaskFailedException)
        {
            // Counted below: only the activities that succeeded sent their command.
        }

        List<(BranchCommand Command, Phase2Result Result)> done =
            [.. phase2.Zip(tasks).Where(p => p.Second.IsCompletedSuccessfully).Select(p => (p.First, p.Second.Result))];
        List<(BranchCommand Command, Phase2Result Result)> sent = [.. done.Where(d => d.Result.Recorded.Decision == proposed.Decision)];
        return (
            done.FirstOrDefault().Result?.Recorded,
            sent.Count(d => d.Result.Failure is null),
            [.. sent.Where(d => d.Result.Failure is not null).Select(d =>
                $"branch {d.Command.Branch} ({d.Command.Participant}, key {d.Command.Key}): {d.Result.Failure}")]);
    }

    private static string Describe(Exception exception)
    {
        var text = exception is TaskFailedException task
            ? $"activity {task.TaskName} failed: {task.FailureDetails.ErrorType}: {task.FailureDetails.ErrorMessage}"
            : $"{exception.GetType().Name}: {exception.Message}";
        return text.Length > MaxFailureLength ? text[..MaxFailureLength] + "…" : text;
    }
}
