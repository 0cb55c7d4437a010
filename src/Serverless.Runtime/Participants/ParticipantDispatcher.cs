using Microsoft.Extensions.Logging;
using Serverless.Core.Messaging;
using Serverless.Core.Participants;
using Serverless.Runtime.Coordination;
using Serverless.Runtime.Faults;
using Serverless.Runtime.Messaging;
using Serverless.Runtime.Storage;

namespace Serverless.Runtime.Participants;

/// <summary>
/// Handles a participant's inbox: hands each command to the resource manager, then reports the vote or the
/// acknowledgement to the coordinator. The inbound message is deleted by the caller only after this returns.
/// </summary>
public sealed class ParticipantDispatcher(
    string participant,
    IResourceManager resourceManager,
    IMessageSender sender,
    MessageCodec codec,
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

        var branch = new BranchKey(message.TransactionId, message.Branch);
        var operation = message.Operation!;
        ProtocolMessage reply;
        try
        {
            switch (message.Kind)
            {
                case MessageKind.Prepare:
                    var vote = await resourceManager.PrepareAsync(branch, operation, cancellationToken);
                    reply = new ProtocolMessage(MessageKind.Vote, message.TransactionId) { Branch = message.Branch, Vote = vote.Vote, Reason = vote.Reason };
                    break;
                case MessageKind.Commit:
                    await resourceManager.CommitAsync(branch, operation, cancellationToken);
                    reply = new ProtocolMessage(MessageKind.Ack, message.TransactionId) { Branch = message.Branch, Outcome = Core.Protocol.BranchOutcome.Committed };
                    break;
                case MessageKind.Rollback:
                    await resourceManager.RollbackAsync(branch, operation, cancellationToken);
                    reply = new ProtocolMessage(MessageKind.Ack, message.TransactionId) { Branch = message.Branch, Outcome = Core.Protocol.BranchOutcome.RolledBack };
                    break;
                default:
                    throw new InvalidMessageException($"a {message.Kind} message does not belong in a participant's inbox");
            }
        }
        catch (ProtocolViolationException ex)
        {
            logger.ProtocolViolation(message.TransactionId, participant, message.Branch, message.Kind.ToString(), ex.Message);
            throw;
        }

        if (message.Kind != MessageKind.Rollback)
        {
            CrashPoints.Hit(message.Kind == MessageKind.Prepare ? CrashPoint.AfterPrepareRecorded : CrashPoint.AfterCommitApplied);
        }

        await sender.SendAsync(names.CoordinatorQueue, codec.Encode(reply), TimeSpan.Zero, cancellationToken);
        logger.ParticipantHandled(message.TransactionId, participant, message.Branch, message.Kind.ToString(),
            reply.Vote?.ToString() ?? reply.Outcome?.ToString() ?? string.Empty);
    }
}
