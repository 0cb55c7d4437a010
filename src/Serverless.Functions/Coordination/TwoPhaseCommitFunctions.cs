using Microsoft.Azure.Functions.Worker;
using Microsoft.DurableTask;
using Serverless.Core.Messaging;
using Serverless.Core.Protocol;
using Serverless.Functions.Faults;
using Serverless.Functions.Messaging;

namespace Serverless.Functions.Coordination;

/// <summary>The coordinator's functions: the <c>TwoPhaseCommit</c> orchestrator (instance id = transaction id) and its activities.</summary>
public sealed class TwoPhaseCommitFunctions(CoordinatorOptions options, ProtocolQueues queues, DecisionStore decisions, TransactionEndings endings)
{
    /// <summary>The orchestrator function's name, as clients schedule it.</summary>
    public const string OrchestratorName = nameof(TwoPhaseCommit);

    [Function(nameof(TwoPhaseCommit))]
    public async Task<TransactionView> TwoPhaseCommit([OrchestrationTrigger] TaskOrchestrationContext context, TransactionRequest request)
    {
        ArgumentNullException.ThrowIfNull(context);
        var view = await new TwoPhaseCommitOrchestration(context, request, options).RunAsync();
        if (!context.IsReplaying)
        {
            // Not state of the orchestration: the early answers' backpressure (TransactionEndings) learns it has one fewer.
            endings.Finished(context.InstanceId);
        }

        return view;
    }

    /// <summary>Sends prepare, commit or rollback commands to the participants' inboxes. Idempotent at the receivers.</summary>
    [Function(nameof(SendCommands))]
    public async Task<int> SendCommands([ActivityTrigger] SendCommandsInput input, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(input);
        if (input.Commands.Any(c => c.Kind == MessageKind.Prepare))
        {
            CrashPoints.Reached(CrashPoint.BeforePrepareSends, input.TransactionId);
        }

        await queues.SendAsync(input.TransactionId, input.Commands, cancellationToken);
        return input.Commands.Count;
    }

    /// <summary>
    /// Reads the transaction's vote board and decision record: how a transaction on the fast path that is still waiting for
    /// votes finds the votes and decision of a report it never got.
    /// </summary>
    [Function(nameof(ReadVoteBoard))]
    public async Task<VoteBoardView> ReadVoteBoard([ActivityTrigger] string transactionId, CancellationToken cancellationToken)
    {
        var board = await decisions.ReadBoardAsync(transactionId, cancellationToken);
        return new VoteBoardView(board.Decision, board.VoteEvents()) { End = board.End };
    }

    /// <summary>
    /// Records the proposed decision unless one is recorded already (first writer wins), then sends the phase-2 commands
    /// only if the proposal is the recorded decision. Returns the recorded decision, which the orchestration carries out.
    /// </summary>
    [Function(nameof(RecordDecision))]
    public async Task<DecisionRecord> RecordDecision([ActivityTrigger] RecordDecisionInput input, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(input);
        var recorded = await decisions.RecordAsync(input.TransactionId, input.Proposed, cancellationToken);
        CrashPoints.Reached(CrashPoint.AfterDecisionRecorded, input.TransactionId);
        if (recorded.Decision == input.Proposed.Decision)
        {
            await queues.SendAsync(input.TransactionId, input.Phase2, cancellationToken);
        }

        return recorded;
    }
}
