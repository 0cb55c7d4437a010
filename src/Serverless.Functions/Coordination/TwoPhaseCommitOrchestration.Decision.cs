using Microsoft.DurableTask;
using Serverless.Core.Protocol;
using Serverless.Functions.Participants;
using Serverless.Functions.Telemetry;

namespace Serverless.Functions.Coordination;

/// <summary>How the orchestration takes a decision: recorded first-writer-wins before it is carried out (I2).</summary>
public sealed partial class TwoPhaseCommitOrchestration
{
    /// <summary>
    /// A step that decides: its decision is recorded (first writer wins) before anything else of it is carried out, and the
    /// recorded decision, which may not be the proposed one, is the one carried out and published.
    /// </summary>
    private async Task DecideAsync(CoordinatorStep step)
    {
        var proposed = DecisionRecord.Of(step.State);
        var commands = step.Commands;
        if (_recordedByBranch != proposed.Decision)
        {
            var recorded = await RecordAsync(proposed, Phase2(commands));
            if (recorded.Decision == proposed.Decision)
            {
                // The phase-2 activities that recorded it carry the commands out.
                commands = commands.RemoveAll(IsPhase2);
            }
            else
            {
                _logger.DecisionAdopted(_state.Id, proposed.Decision.ToString(), recorded.Decision.ToString(), recorded.Reason);
                step = Coordinator.Adopt(step.State, recorded, Now, _options);
                commands = step.Commands;
            }
        }
        else
        {
            // A one-phase branch recorded this decision and finished its branch: nothing is left to record or send.
            commands = commands.RemoveAll(IsPhase2);
        }

        _logger.TransactionDecided(_state.Id, step.State.Decision.ToString()!, step.State.Reason);
        if (!_context.IsReplaying)
        {
            TransactionTelemetry.TransactionDecided(Now - _state.CreatedAt);
        }

        await TakeAsync(step, commands);
    }

    /// <summary>
    /// Records <paramref name="proposed"/>, retrying until a decision is known to be recorded, and returns it: through the
    /// phase-2 activities of <paramref name="phase2"/> (each records before it sends, so the first to answer tells), or
    /// through <c>RecordDecision</c> when there are none. The phase-2 activities' outcomes are applied later, as any.
    /// </summary>
    private async Task<DecisionRecord> RecordAsync(DecisionRecord proposed, IReadOnlyList<BranchCommand> phase2)
    {
        for (var attempt = 1; ; attempt++)
        {
            if (phase2.Count == 0)
            {
                try
                {
                    return await RecordDecisionAsync(proposed);
                }
                catch (TaskFailedException ex)
                {
                    _logger.RecordingFailed(_state.Id, nameof(TwoPhaseCommitFunctions.RecordDecision), attempt, ex.FailureDetails.ErrorMessage);
                }
            }
            else
            {
                List<Task> scheduled = [.. phase2.Select(c => SchedulePhase2(c, proposed))];
                while (scheduled.Count > 0)
                {
                    var done = await Task.WhenAny(scheduled);
                    if (done is Task<Phase2Result> { IsCompletedSuccessfully: true } result)
                    {
                        return (await result).Recorded;
                    }

                    scheduled.Remove(done);
                }
            }

            await _context.CreateTimer(Now.UtcDateTime + _options.Phase2RetryDelay(attempt), CancellationToken.None);
        }
    }

    /// <summary>The <c>RecordDecision</c> activity, within its retry policy: for a decision whose phase 2 sends nothing.</summary>
    private Task<DecisionRecord> RecordDecisionAsync(DecisionRecord proposed) =>
        _context.CallActivityAsync<DecisionRecord>(
            nameof(TwoPhaseCommitFunctions.RecordDecision), new RecordDecisionInput(_context.InstanceId, proposed), ActivityRetries);
}
