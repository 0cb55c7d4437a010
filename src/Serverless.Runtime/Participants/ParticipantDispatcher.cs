using Microsoft.Extensions.Logging;
using Serverless.Core.Messaging;
using Serverless.Core.Participants;
using Serverless.Core.Protocol;
using Serverless.Runtime.Coordination;
using Serverless.Runtime.Faults;
using Serverless.Runtime.Storage;

namespace Serverless.Runtime.Participants;

/// <summary>
/// Handles a participant's inbox: hands each command to the resource manager, then reports the vote or the
/// acknowledgement to the coordinator. The inbound message is deleted by the caller only after this returns.
/// </summary>
/// <remarks>
/// <para>Every process of the app runs the coordinator too, so the reply is applied to the coordinator's checkpoint
/// directly instead of travelling through its inbox (saving a send, a receive and a delete per reply, and a queue
/// hop of latency). When the vote decides the transaction (or finds it decided), this branch's commit or rollback is
/// carried out at once rather than sent back as a message. For a transaction with a single participant this is the
/// one-phase optimisation: the prepare is the only message, and the vote round trip (a vote, then a commit) is
/// skipped. The decision is still the coordinator's one conditional write (I2), so a vote deadline that passes
/// first still aborts (I4), and the branch then rolls back here.</para>
/// <para>Crash safety is unchanged (I5): the inbound prepare is deleted only after the vote, the decision and the
/// local phase 2 are durable; a crash in between redelivers it, the repeated prepare answers the recorded vote, the
/// coordinator re-issues what the decision calls for, and the branch finishes here. If the prepare itself is lost
/// (poisoned), the phase-2 retry timer, or the vote deadline serving as the first retry, sends the command.</para>
/// </remarks>
public sealed class ParticipantDispatcher(
    string participant,
    IResourceManager resourceManager,
    TransactionCoordinator coordinator,
    StorageNames names,
    ILogger<ParticipantDispatcher> logger)
{
    public string Participant => participant;

    public string Queue => names.ParticipantQueue(participant);

    public IResourceManager ResourceManager => resourceManager;

    public async Task HandleAsync(ProtocolMessage message, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(message);
        if (message.Participant != participant)
        {
            throw new InvalidMessageException($"a command for participant '{message.Participant}' arrived in the inbox of '{participant}'");
        }

        var reply = await ExecuteAsync(message, message.Kind, cancellationToken);
        var state = await coordinator.ApplyReplyAsync(reply, cancellationToken);
        if (message.Kind == MessageKind.Prepare
            && state?.Decision is { } decision
            && message.Branch < state.Branches.Length
            && state.Branches[message.Branch] is { } branch
            && branch.Participant == participant
            && branch.OwesAcknowledgement(decision))
        {
            var ack = await ExecuteAsync(message, decision == Decision.Commit ? MessageKind.Commit : MessageKind.Rollback, cancellationToken);
            await coordinator.ApplyReplyAsync(ack, cancellationToken);
        }
    }

    /// <summary>Carries out <paramref name="kind"/> for the branch of <paramref name="message"/> and returns the reply for the coordinator.</summary>
    private async Task<ProtocolMessage> ExecuteAsync(ProtocolMessage message, MessageKind kind, CancellationToken cancellationToken)
    {
        var branch = new BranchKey(message.TransactionId, message.Branch);
        var operation = message.Operation!;
        ProtocolMessage reply;
        try
        {
            switch (kind)
            {
                case MessageKind.Prepare:
                    var vote = await resourceManager.PrepareAsync(branch, operation, cancellationToken);
                    reply = new ProtocolMessage(MessageKind.Vote, message.TransactionId) { Branch = message.Branch, Vote = vote.Vote, Reason = vote.Reason };
                    break;
                case MessageKind.Commit:
                    await resourceManager.CommitAsync(branch, operation, cancellationToken);
                    reply = new ProtocolMessage(MessageKind.Ack, message.TransactionId) { Branch = message.Branch, Outcome = BranchOutcome.Committed };
                    break;
                case MessageKind.Rollback:
                    await resourceManager.RollbackAsync(branch, operation, cancellationToken);
                    reply = new ProtocolMessage(MessageKind.Ack, message.TransactionId) { Branch = message.Branch, Outcome = BranchOutcome.RolledBack };
                    break;
                default:
                    throw new InvalidMessageException($"a {kind} message does not belong in a participant's inbox");
            }
        }
        catch (ProtocolViolationException ex)
        {
            logger.ProtocolViolation(message.TransactionId, participant, message.Branch, kind.ToString(), ex.Message);
            throw;
        }

        if (kind != MessageKind.Rollback)
        {
            CrashPoints.Hit(kind == MessageKind.Prepare ? CrashPoint.AfterPrepareRecorded : CrashPoint.AfterCommitApplied);
        }

        logger.ParticipantHandled(message.TransactionId, participant, message.Branch, kind.ToString(),
            reply.Vote?.ToString() ?? reply.Outcome?.ToString() ?? string.Empty);
        return reply;
    }
}
