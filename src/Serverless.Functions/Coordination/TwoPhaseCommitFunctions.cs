using Microsoft.Azure.Functions.Worker;
using Microsoft.DurableTask;
using Serverless.Core.Messaging;
using Serverless.Core.Protocol;
using Serverless.Functions.Faults;
using Serverless.Functions.Participants;

namespace Serverless.Functions.Coordination;

/// <summary>
/// The coordinator's functions: the <c>TwoPhaseCommit</c> orchestrator (instance id = transaction id) and its activities,
/// one per branch and phase: <c>Prepare</c>, then <c>Commit</c> or <c>Rollback</c>; and <c>RecordDecision</c> for a decision
/// whose phase 2 sends nothing.
/// </summary>
public sealed class TwoPhaseCommitFunctions(CoordinatorOptions options, CommandDelivery delivery, DecisionStore decisions)
{
    /// <summary>The orchestrator function's name, as clients schedule it.</summary>
    public const string OrchestratorName = nameof(TwoPhaseCommit);

    [Function(nameof(TwoPhaseCommit))]
    public Task<TransactionView> TwoPhaseCommit([OrchestrationTrigger] TaskOrchestrationContext context, TransactionRequest request)
    {
        ArgumentNullException.ThrowIfNull(context);
        return new TwoPhaseCommitOrchestration(context, request, options).RunAsync();
    }

    /// <summary>
    /// Puts the branch's prepare in its participant's inbox. Returns the vote when the participant runs in this app and
    /// handled it here; null when its queue function will, and its vote comes as an event.
    /// </summary>
    [Function(nameof(Prepare))]
    public async Task<VoteEvent?> Prepare([ActivityTrigger] BranchCommand command, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(command);
        CrashPoints.Reached(CrashPoint.BeforePrepareSends, command.TransactionId);
        return await delivery.DeliverAsync(command, cancellationToken) is { Vote: not null } reply ? VoteEvent.From(reply) : null;
    }

    /// <summary>Records the proposed decision (first writer wins), then puts the branch's commit in its inbox if Commit is the recorded decision.</summary>
    [Function(nameof(Commit))]
    public Task<Phase2Result> Commit([ActivityTrigger] Phase2Input input, CancellationToken cancellationToken) =>
        FinishAsync(input, MessageKind.Commit, cancellationToken);

    /// <summary>Records the proposed decision (first writer wins), then puts the branch's rollback in its inbox if Abort is the recorded decision.</summary>
    [Function(nameof(Rollback))]
    public Task<Phase2Result> Rollback([ActivityTrigger] Phase2Input input, CancellationToken cancellationToken) =>
        FinishAsync(input, MessageKind.Rollback, cancellationToken);

    /// <summary>Records the proposed decision unless one is recorded already (first writer wins); returns the recorded one.</summary>
    [Function(nameof(RecordDecision))]
    public async Task<DecisionRecord> RecordDecision([ActivityTrigger] RecordDecisionInput input, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(input);
        var recorded = await decisions.RecordAsync(input.TransactionId, input.Proposed, cancellationToken);
        CrashPoints.Reached(CrashPoint.AfterDecisionRecorded, input.TransactionId);
        return recorded;
    }

    /// <summary>
    /// A phase-2 activity: the decision it carries is recorded first (I2: durable before any phase-2 command leaves, and the
    /// recorded one wins over what this episode proposed), and the command leaves only for the recorded decision.
    /// </summary>
    private async Task<Phase2Result> FinishAsync(Phase2Input input, MessageKind kind, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(input);
        var command = input.Command with { Kind = kind };
        var recorded = await decisions.RecordAsync(command.TransactionId, input.Proposed, cancellationToken);
        CrashPoints.Reached(CrashPoint.AfterDecisionRecorded, command.TransactionId);
        if (recorded.Decision != (kind == MessageKind.Commit ? Decision.Commit : Decision.Abort))
        {
            return new Phase2Result(recorded, null);
        }

        var reply = await delivery.DeliverAsync(command, cancellationToken);
        return new Phase2Result(recorded, reply?.Outcome);
    }
}
