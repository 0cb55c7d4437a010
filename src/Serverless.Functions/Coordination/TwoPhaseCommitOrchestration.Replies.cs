using Microsoft.DurableTask;
using Serverless.Core.Protocol;
using Serverless.Functions.Messaging;
using Serverless.Functions.Telemetry;

namespace Serverless.Functions.Coordination;

/// <summary>The participants' replies: votes and acknowledgements, from the branch activities' results or from events.</summary>
public sealed partial class TwoPhaseCommitOrchestration
{
    /// <summary>
    /// A branch activity ended: a vote (or saga action's result), phase-2 outcome or compensation failure it brings is
    /// applied. A failed one is logged and left to what recovers it: an unsent prepare ends in the deadline's abort, an
    /// unsent phase-2 command is sent again by the retry timer. A saga action that failed has an unknown outcome: it counts
    /// as not applied, and the Abort that follows compensates it (or cancels it, should it arrive later).
    /// </summary>
    private async Task OnActivityCompletedAsync(Task completed)
    {
        var index = _activities.FindIndex(a => a.Task == completed);
        var activity = _activities[index];
        _activities.RemoveAt(index);
        VoteEvent? vote = null;
        Phase2Result? phase2 = null;
        try
        {
            if (completed is Task<VoteEvent?> prepare)
            {
                vote = await prepare;
            }
            else if (completed is Task<Phase2Result> finish)
            {
                phase2 = await finish;
            }
        }
        catch (TaskFailedException failed)
        {
            _logger.ActivityFailed(_state.Id, failed.TaskName, activity.Branch, failed.FailureDetails.ErrorMessage);
            if (failed.TaskName == nameof(TwoPhaseCommitFunctions.SagaAction))
            {
                await OnVoteAsync(new VoteEvent(activity.Branch, Vote.No, $"its outcome is unknown ({failed.FailureDetails.ErrorMessage})"));
            }

            return;
        }

        if (vote is not null)
        {
            await OnVoteAsync(vote);
        }
        else if (phase2?.Outcome is { } acknowledged)
        {
            await OnAckAsync(new AckEvent(activity.Branch, acknowledged));
        }
        else if (phase2?.Failure is { } failure)
        {
            await OnCompensationFailedAsync(activity.Branch, failure);
        }
    }

    /// <summary>A saga compensation failed: counted; when the count reaches the threshold, a heuristic outcome is raised (a Critical alert and the metric).</summary>
    private async Task OnCompensationFailedAsync(int branch, string failure)
    {
        var wasHeuristic = _state.Branches[branch].Heuristic is not null;
        await ApplyAsync(new CompensationFailed(branch, failure));
        var after = _state.Branches[branch];
        _logger.CompensationFailed(_state.Id, after.Participant, branch, after.CompensationFailures, failure);
        if (!wasHeuristic && after.Heuristic is { } heuristic)
        {
            _logger.HeuristicOutcome(_state.Id, after.Participant, branch, heuristic);
            if (!_context.IsReplaying)
            {
                TransactionTelemetry.HeuristicOutcome(after.Participant);
            }
        }
    }

    /// <summary>
    /// A vote; a one-phase branch's vote also carries the decision it recorded and the outcome it finished with. Only a
    /// transaction of one branch has a one-phase branch: a decision carried in any other vote is ignored (and logged).
    /// </summary>
    private async Task OnVoteAsync(VoteEvent vote)
    {
        if (vote.Decision is not null && _state.Branches.Length != 1)
        {
            _logger.EventRejected(_state.Id, nameof(VoteEvent), $"branch {vote.Branch}'s vote carries a decision, but only the branch of a one-branch transaction decides; the decision is ignored");
            vote = vote with { Decision = null, Outcome = null };
        }

        _recordedByBranch ??= vote.Decision;
        await ApplyAsync(new VoteCast(vote.Branch, vote.Vote, vote.Reason, vote.Participant));
        if (vote.Outcome is { } outcome)
        {
            await OnAckAsync(new AckEvent(vote.Branch, outcome, vote.Participant));
        }
    }

    /// <summary>
    /// An acknowledgement. One may come before this run knows the decision (after a crash, phase 2 of a decision the
    /// replayed episode has not taken again yet): it is kept until the decision is known, then applied.
    /// </summary>
    private async Task OnAckAsync(AckEvent ack)
    {
        if (_state.Decision is null)
        {
            _logger.AcknowledgementKept(_state.Id, ack.Branch, ack.Outcome.ToString());
            _earlyAcks.Add(ack);
            return;
        }

        await ApplyAsync(new BranchAcknowledged(ack.Branch, ack.Outcome, ack.Participant));
    }
}
