using Microsoft.Azure.Functions.Worker;
using Microsoft.DurableTask;
using Serverless.Core.Messaging;
using Serverless.Core.Participants;
using Serverless.Core.Protocol;
using Serverless.Functions.Faults;
using Serverless.Functions.Messaging;
using Serverless.Functions.Participants;

namespace Serverless.Functions.Coordination;

/// <summary>
/// The coordinator's functions: the <c>TwoPhaseCommit</c> orchestrator (instance id = transaction id) and its activities,
/// one per branch and phase: <c>Prepare</c>, then <c>Commit</c> or <c>Rollback</c>; for a saga branch <c>SagaAction</c>,
/// then <c>Compensate</c> under Abort; and <c>RecordDecision</c> for a decision whose phase 2 sends nothing.
/// </summary>
public sealed class TwoPhaseCommitFunctions(CoordinatorOptions options, CommandDelivery delivery, DecisionStore decisions, ParticipantRegistry participants)
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

    /// <summary>The reason a saga action stopped by a recorded Abort gives as its branch's vote (No: not applied).</summary>
    public const string DecidedAbortBeforeAction = "the transaction was decided Abort before this action ran";

    /// <summary>
    /// Runs the action of a saga branch, keyed by the branch (<see cref="SagaKeys"/>), so that a second run (a retry, or a
    /// crash before this activity's result was saved) is answered as the first. Returns the action's result as the branch's
    /// vote: Yes applied, No not applied. Throws when the outcome is unknown; retried within the activity's policy.
    /// </summary>
    /// <remarks>
    /// <para>Each attempt first reads the decision record. Once Abort is recorded (<c>POST .../abort</c> records it before it
    /// raises its event; presumed abort), the action is not called and the branch answers not applied
    /// (<see cref="DecidedAbortBeforeAction"/>): the orchestration decides Abort, adopting the recorded one, and compensates
    /// every saga branch, this one too, which cancels the action should an earlier attempt of it still arrive.</para>
    /// <para>A recorded Commit cannot precede this action: Commit is decided only after the last saga action was applied, so
    /// with Commit recorded this is a repeat of an applied action (a redelivered work item). It runs as usual, and its key
    /// answers it as the first time, with no second effect.</para>
    /// </remarks>
    [Function(nameof(SagaAction))]
    public async Task<VoteEvent> SagaAction([ActivityTrigger] BranchCommand command, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(command);
        if (await decisions.GetAsync(command.TransactionId, cancellationToken) is { Decision: Decision.Abort })
        {
            return new VoteEvent(command.Branch, Vote.No, DecidedAbortBeforeAction);
        }

        var result = await participants.Saga(command.Participant)
            .ApplyAsync(command.Key ?? SagaKeys.Of(command.TransactionId, command.Branch), command.Operation, cancellationToken);
        CrashPoints.Reached(CrashPoint.AfterSagaActionApplied, command.TransactionId);
        return new VoteEvent(command.Branch, result.Applied ? Vote.Yes : Vote.No, result.Reason);
    }

    /// <summary>
    /// Records the proposed decision (first writer wins), then, if Abort is the recorded decision, runs the compensation of
    /// the saga branch. A compensation that fails is reported in the result, not thrown: the orchestration counts it and
    /// retries it on its phase-2 timer until it succeeds.
    /// </summary>
    [Function(nameof(Compensate))]
    public async Task<Phase2Result> Compensate([ActivityTrigger] Phase2Input input, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(input);
        var command = input.Command;
        var recorded = await RecordAsync(command.TransactionId, input.Proposed, cancellationToken);
        if (recorded.Decision != Decision.Abort)
        {
            return new Phase2Result(recorded, null);
        }

        try
        {
            await participants.Saga(command.Participant).CompensateAsync(command.Key ?? SagaKeys.Of(command.TransactionId, command.Branch), cancellationToken);
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
        {
            return new Phase2Result(recorded, null, ex is TaskCanceledException ? $"participant '{command.Participant}' did not answer in time" : ex.Message);
        }

        CrashPoints.Reached(CrashPoint.AfterSagaCompensated, command.TransactionId);

        return new Phase2Result(recorded, BranchOutcome.RolledBack);
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
        return await RecordAsync(input.TransactionId, input.Proposed, cancellationToken);
    }

    /// <summary>
    /// A phase-2 activity: the decision it carries is recorded first (I2: durable before any phase-2 command leaves, and the
    /// recorded one wins over what this episode proposed), and the command leaves only for the recorded decision.
    /// </summary>
    private async Task<Phase2Result> FinishAsync(Phase2Input input, MessageKind kind, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(input);
        var command = input.Command with { Kind = kind };
        var recorded = await RecordAsync(command.TransactionId, input.Proposed, cancellationToken);
        if (recorded.Decision != (kind == MessageKind.Commit ? Decision.Commit : Decision.Abort))
        {
            return new Phase2Result(recorded, null);
        }

        var reply = await delivery.DeliverAsync(command, cancellationToken);
        return new Phase2Result(recorded, reply?.Outcome);
    }

    private async Task<DecisionRecord> RecordAsync(string transactionId, DecisionRecord proposed, CancellationToken cancellationToken)
    {
        var recorded = await decisions.RecordAsync(transactionId, proposed, cancellationToken);
        CrashPoints.Reached(CrashPoint.AfterDecisionRecorded, transactionId);
        return recorded;
    }
}
