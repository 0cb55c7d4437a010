using Microsoft.DurableTask.Client;
using Serverless.Core.Messaging;
using Serverless.Core.Protocol;
using Serverless.Functions.Faults;
using Serverless.Functions.Messaging;
using Serverless.ParticipantKit;

namespace Serverless.Functions.Participants;

/// <summary>
/// The inboxes of this app's own participants: the participant kit's <see cref="ParticipantInbox"/>, whose replies are raised
/// on the orchestration directly (no <c>tx-coordinator</c> round trip), wherever the command is handled (the participant's
/// queue function, or the activity that put it there, <see cref="CommandDelivery"/>).
/// </summary>
public sealed class InAppInbox(ParticipantInbox inbox, ReplyEvents events)
{
    /// <summary>The queue function of <paramref name="participant"/>: handles one message of its inbox and raises the reply on the transaction's orchestration.</summary>
    public async Task ReceiveAsync(string participant, string message, DurableTaskClient client, CancellationToken cancellationToken = default)
    {
        if (await HandleAsync(participant, message, cancellationToken) is { } reply)
        {
            await events.RaiseAsync(reply, client, cancellationToken);
        }
    }

    /// <summary>Handles one message of <paramref name="participant"/>'s inbox: the reply, or null when the message was moved to the poison queue.</summary>
    public async Task<ProtocolMessage?> HandleAsync(string participant, string message, CancellationToken cancellationToken = default)
    {
        var reply = await inbox.HandleAsync(participant, message, cancellationToken);
        switch (reply)
        {
            case { Kind: MessageKind.Vote, Vote: Vote.Yes }:
                CrashPoints.Reached(CrashPoint.AfterPrepareRecorded, reply.TransactionId);
                break;
            case { Kind: MessageKind.Ack, Outcome: BranchOutcome.Committed }:
                CrashPoints.Reached(CrashPoint.AfterCommitApplied, reply.TransactionId);
                break;
        }

        return reply;
    }
}
