using Microsoft.Extensions.Logging;
using Serverless.Core.Messaging;
using Serverless.Core.Participants;
using Serverless.Core.Protocol;

namespace Serverless.ParticipantKit;

/// <summary>
/// A participant's inbox: verifies each command with the participant's own key, hands it to the participant's resource
/// manager under the protocol's decision table, and answers with the vote or acknowledgement, signed with that key.
/// </summary>
/// <remarks>
/// <para>I5: a command is complete (its queue message deleted, which the queue trigger does when the function returns) only
/// after the resource manager's step is durable and its reply is sent; a crash in between redelivers the command, and the
/// resource manager answers a repeated command as the first time. A message that cannot be trusted (unsigned, forged,
/// malformed), is addressed to another participant, or contradicts the branch's record is moved to the poison queue and
/// never acted on; the function then returns normally, so the message is not retried.</para>
/// <para>One-phase (a single-branch transaction, sent only to participants of the coordinator's own app, which hold its
/// decision records, <see cref="IDecisionRecords"/>): the participant records the decision its vote implies, first writer
/// wins, and finishes the branch by the recorded decision at once. Without decision records a one-phase prepare is an
/// ordinary prepare: the coordinator then decides as for any transaction.</para>
/// </remarks>
/// <example>
/// A participant app's queue function is one line:
/// <code>
/// [Function("ShippingParticipant")]
/// public Task Inbox([QueueTrigger("tx-participant-shipping", Connection = "COORDINATOR_STORAGE")] string message, CancellationToken cancellationToken) =>
///     inbox.ReceiveAsync("shipping", message, cancellationToken);
/// </code>
/// </example>
public sealed class ParticipantInbox(
    ParticipantResourceManagers resourceManagers,
    ParticipantKeyring keys,
    ParticipantQueues queues,
    TimeProvider time,
    ILogger<ParticipantInbox> logger,
    IDecisionRecords? decisions = null)
{
    /// <summary>Handles one message of <paramref name="participant"/>'s inbox and sends the reply to the coordinator's inbox, <c>tx-coordinator</c>.</summary>
    public async Task ReceiveAsync(string participant, string message, CancellationToken cancellationToken = default)
    {
        if (await HandleAsync(participant, message, cancellationToken) is { } reply)
        {
            await queues.ReplyAsync(reply, cancellationToken);
        }
    }

    /// <summary>Handles one message of <paramref name="participant"/>'s inbox: the reply for the coordinator, or null when the message was moved to the poison queue.</summary>
    public async Task<ProtocolMessage?> HandleAsync(string participant, string message, CancellationToken cancellationToken = default)
    {
        var queue = QueueNames.Participant(participant);
        if (!keys.Has(participant))
        {
            // A configuration error, not the message's fault: fail, so that the message is retried once the key is set.
            throw new InvalidOperationException($"this app holds no signing key of participant '{participant}' (PARTICIPANT_{{NAME}}_SIGNING_KEY, docs/participants.md)");
        }

        if (!keys.For(participant).TryDecode(message, out var command, out var error))
        {
            await queues.PoisonAsync(queue, message, $"cannot be trusted: {error}", cancellationToken);
            return null;
        }

        if (command!.Participant != participant || command.Kind is not (MessageKind.Prepare or MessageKind.Commit or MessageKind.Rollback))
        {
            await queues.PoisonAsync(queue, message, $"a {command.Kind} for participant '{command.Participant}' does not belong in the inbox of '{participant}'", cancellationToken);
            return null;
        }

        using var span = ParticipantTelemetry.StartHandling(command, participant);
        try
        {
            var reply = await ExecuteAsync(participant, resourceManagers.Get(participant), command, cancellationToken);
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

    /// <summary>Carries out a verified <paramref name="command"/> with the resource manager and returns the reply for the coordinator.</summary>
    /// <exception cref="ProtocolViolationException">The command contradicts the branch's record; nothing changed.</exception>
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
                reply = new ProtocolMessage(MessageKind.Vote, command.TransactionId) { Branch = command.Branch, Participant = participant, Vote = vote.Vote, Reason = vote.Reason };
                if (command.OnePhase && decisions is not null)
                {
                    reply = await FinishOnePhaseAsync(participant, resourceManager, command, reply, decisions, cancellationToken);
                }

                break;
            case MessageKind.Commit or MessageKind.Rollback:
                reply = await FinishAsync(resourceManager, participant, branch, command.Operation!, command.Kind == MessageKind.Commit ? Decision.Commit : Decision.Abort, cancellationToken);
                break;
            default:
                throw new ArgumentException($"a {command.Kind} is not a participant's command", nameof(command));
        }

        logger.ParticipantHandled(command.TransactionId, participant, command.Branch, command.Kind.ToString(),
            reply.Vote?.ToString() ?? reply.Outcome?.ToString() ?? string.Empty);
        return reply;
    }

    /// <summary>Commits or rolls back a branch by <paramref name="decision"/> and returns its acknowledgement.</summary>
    public static async Task<ProtocolMessage> FinishAsync(
        IResourceManager resourceManager, string participant, BranchKey branch, string operation, Decision decision, CancellationToken cancellationToken = default)
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
            Participant = participant,
            Outcome = decision == Decision.Commit ? BranchOutcome.Committed : BranchOutcome.RolledBack,
        };
    }

    private async Task<ProtocolMessage> FinishOnePhaseAsync(
        string participant, IResourceManager resourceManager, ProtocolMessage command, ProtocolMessage vote, IDecisionRecords records, CancellationToken cancellationToken)
    {
        var proposed = Coordinator.DecideOnePhase(command.TransactionId, participant, vote.Vote!.Value, vote.Reason, time.GetUtcNow());
        var recorded = await records.RecordAsync(command.TransactionId, proposed, cancellationToken);
        BranchOutcome? outcome = null;
        if (vote.Vote == Vote.Yes)
        {
            var ack = await FinishAsync(resourceManager, participant, new BranchKey(command.TransactionId, command.Branch), command.Operation!, recorded.Decision, cancellationToken);
            outcome = ack.Outcome;
        }

        return vote with { Decision = recorded.Decision, Outcome = outcome };
    }
}
