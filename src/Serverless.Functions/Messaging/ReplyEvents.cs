using Microsoft.DurableTask.Client;
using Microsoft.Extensions.Logging;
using Serverless.Core.Messaging;
using Serverless.Functions.Faults;

namespace Serverless.Functions.Messaging;

/// <summary>
/// Turns a participant's reply into its orchestration's event: a vote into <see cref="TransactionEvents.Vote"/>, an
/// acknowledgement into <see cref="TransactionEvents.Ack"/>, each naming the participant that sent it.
/// </summary>
public sealed class ReplyEvents(ILogger<ReplyEvents> logger)
{
    /// <summary>Raises <paramref name="reply"/> on its transaction's orchestration (the event is durable when this returns).</summary>
    public async Task RaiseAsync(ProtocolMessage reply, DurableTaskClient client, CancellationToken cancellationToken = default)
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
                await client.RaiseEventAsync(reply.TransactionId, TransactionEvents.Ack, new AckEvent(reply.Branch, reply.Outcome!.Value, reply.Participant), cancellationToken);
            }
        }
        catch (Exception ex) when (ex is ArgumentException or InvalidOperationException)
        {
            // No such orchestration (a hand-made command, or history purged): the branch is done; nobody waits for the reply.
            logger.ReplyNotDelivered(reply.TransactionId, reply.Participant ?? "?", reply.Branch, ex.Message);
        }
    }
}
