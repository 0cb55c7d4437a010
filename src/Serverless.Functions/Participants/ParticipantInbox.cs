using Microsoft.DurableTask.Client;
using Microsoft.Extensions.Logging;
using Serverless.Core.Messaging;
using Serverless.Core.Participants;
using Serverless.Core.Protocol;
using Serverless.Functions.Coordination;
using Serverless.Functions.Faults;
using Serverless.Functions.Messaging;
using Serverless.Functions.Storage;
using Serverless.Functions.Telemetry;

namespace Serverless.Functions.Participants;

/// <summary>
/// What a participant does with a command from its inbox, wherever it is handled (its queue function, or the activity that
/// put it there, <see cref="CommandDelivery"/>): verify it, hand it to the participant's resource manager, and answer with
/// the vote or acknowledgement.
/// </summary>
/// <remarks>
/// <para>I5: a command is complete (deleted from the inbox) only after the resource manager's step is durable and its reply
/// is delivered; a crash in between redelivers the command, and the resource manager answers a repeated command as the
/// first time. A message that cannot be trusted (unsigned, forged, malformed), is addressed to another participant, or
/// contradicts the branch's record is moved to the poison queue and never acted on.</para>
/// <para>One-phase (a single-branch transaction): the participant records the decision its vote implies, first writer
/// wins, and finishes the branch by the recorded decision at once; the prepare is the only command it gets. A deadline
/// or abort recorded first still wins (the branch then rolls back).</para>
/// </remarks>
public sealed class ParticipantInbox(
    ParticipantRegistry participants,
    MessageCodec codec,
    DecisionStore decisions,
    ProtocolQueues queues,
    TimeProvider time,
    ILogger<ParticipantInbox> logger)
{
    /// <summary>The queue function of <paramref name="participant"/>: handles one message of its inbox and raises the reply on the transaction's orchestration.</summary>
    public async Task ReceiveAsync(string participant, string message, DurableTaskClient client, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(client);
        if (await HandleAsync(participant, message, cancellationToken) is { } reply)
        {
            await RaiseAsync(reply, participant, client, cancellationToken);
        }
    }

    /// <summary>Handles one message of <paramref name="participant"/>'s inbox: the reply for the coordinator, or null when the message was moved to the poison queue.</summary>
    public async Task<ProtocolMessage?> HandleAsync(string participant, string message, CancellationToken cancellationToken = default)
    {
        var queue = StorageNames.ParticipantQueue(participant);
        if (!codec.TryDecode(message, out var command, out var error))
        {
            await queues.PoisonAsync(queue, message, $"cannot be trusted: {error}", cancellationToken);
            return null;
        }

        if (command!.Participant != participant || command.Kind is not (MessageKind.Prepare or MessageKind.Commit or MessageKind.Rollback))
        {
            await queues.PoisonAsync(queue, message, $"a {command.Kind} for participant '{command.Participant}' does not belong in the inbox of '{participant}'", cancellationToken);
            return null;
        }

        using var span = TransactionTelemetry.StartParticipant(command, participant);
        try
        {
            var reply = await ExecuteAsync(participant, participants.Get(participant), command, cancellationToken);
            span?.SetTag("transaction.reply", reply.Vote?.ToString() ?? reply.Outcome?.ToString());
            return reply;
        }
        catch (ProtocolViolationException ex)
        {
            span?.SetStatus(System.Diagnostics.ActivityStatusCode.Error, ex.Message);
            logger.ProtocolViolation(command.TransactionId, participant, command.Branch, command.Kind.ToString(), ex.Message);
            await queues.PoisonAsync(queue, message, ex.Message, cancellationToken);
            return null;
        }
    }

    /// <summary>Carries out <paramref name="command"/> with the resource manager and returns the reply for the coordinator.</summary>
    public async Task<ProtocolMessage> ExecuteAsync(string participant, IResourceManager resourceManager, ProtocolMessage command, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(resourceManager);
        ArgumentNullException.ThrowIfNull(command);
        var branch = new BranchKey(command.TransactionId, command.Branch);
        ProtocolMessage reply;
        switch (command.Kind)
        {
            case MessageKind.Prepare:
                var vote = await resourceManager.PrepareAsync(branch, command.Operation!, cancellationToken);
                if (vote.Vote == Vote.Yes)
                {
                    CrashPoints.Reached(CrashPoint.AfterPrepareRecorded, command.TransactionId);
                }

                reply = new ProtocolMessage(MessageKind.Vote, command.TransactionId) { Branch = command.Branch, Vote = vote.Vote, Reason = vote.Reason };
                if (command.OnePhase)
                {
                    reply = await FinishOnePhaseAsync(participant, resourceManager, command, reply, cancellationToken);
                }

                break;
            case MessageKind.Commit or MessageKind.Rollback:
                var decision = command.Kind == MessageKind.Commit ? Decision.Commit : Decision.Abort;
                reply = await FinishAsync(resourceManager, branch, command.Operation!, decision, cancellationToken);
                if (decision == Decision.Commit)
                {
                    CrashPoints.Reached(CrashPoint.AfterCommitApplied, command.TransactionId);
                }

                break;
            default:
                throw new ArgumentException($"a {command.Kind} is not a participant's command", nameof(command));
        }

        logger.ParticipantHandled(command.TransactionId, participant, command.Branch, command.Kind.ToString(),
            reply.Vote?.ToString() ?? reply.Outcome?.ToString() ?? string.Empty);
        return reply;
    }

    /// <summary>Commits or rolls back a branch by <paramref name="decision"/> and returns its acknowledgement.</summary>
    public static async Task<ProtocolMessage> FinishAsync(IResourceManager resourceManager, BranchKey branch, string operation, Decision decision, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(resourceManager);
        if (decision == Decision.Commit)
        {
            await resourceManager.CommitAsync(branch, operation, cancellationToken);
        }
        else
        {
            await resourceManager.RollbackAsync(branch, operation, cancellationToken);
        }

        return new ProtocolMessage(MessageKind.Ack, branch.TransactionId)
        {
            Branch = branch.Branch,
            Outcome = decision == Decision.Commit ? BranchOutcome.Committed : BranchOutcome.RolledBack,
        };
    }

    /// <summary>Raises a participant's reply on its transaction's orchestration (the event is durable when this returns).</summary>
    public async Task RaiseAsync(ProtocolMessage reply, string participant, DurableTaskClient client, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(reply);
        ArgumentNullException.ThrowIfNull(client);
        try
        {
            if (reply.Kind == MessageKind.Vote)
            {
                await client.RaiseEventAsync(reply.TransactionId, TransactionEvents.Vote, VoteEvent.From(reply), cancellationToken);
                CrashPoints.Reached(CrashPoint.AfterVoteRaised, reply.TransactionId);
            }
            else
            {
                await client.RaiseEventAsync(reply.TransactionId, TransactionEvents.Ack, new AckEvent(reply.Branch, reply.Outcome!.Value), cancellationToken);
            }
        }
        catch (Exception ex) when (ex is ArgumentException or InvalidOperationException)
        {
            // No such orchestration (a hand-made command, or history purged): the branch is done; nobody waits for the reply.
            logger.ReplyNotDelivered(reply.TransactionId, participant, reply.Branch, ex.Message);
        }
    }

    private async Task<ProtocolMessage> FinishOnePhaseAsync(
        string participant, IResourceManager resourceManager, ProtocolMessage command, ProtocolMessage vote, CancellationToken cancellationToken)
    {
        var proposed = vote.Vote == Vote.No
            ? new DecisionRecord(Decision.Abort, Coordinator.NoVoteReason(participant, vote.Reason), time.GetUtcNow(), [vote.Vote])
            : new DecisionRecord(Decision.Commit, null, time.GetUtcNow(), [vote.Vote]);
        var recorded = await decisions.RecordAsync(command.TransactionId, proposed, cancellationToken);
        BranchOutcome? outcome = null;
        if (vote.Vote == Vote.Yes)
        {
            var ack = await FinishAsync(resourceManager, new BranchKey(command.TransactionId, command.Branch), command.Operation!, recorded.Decision, cancellationToken);
            outcome = ack.Outcome;
        }

        return vote with { Decision = recorded.Decision, Outcome = outcome };
    }
}
