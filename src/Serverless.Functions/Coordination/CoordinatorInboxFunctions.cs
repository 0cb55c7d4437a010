using Microsoft.Azure.Functions.Worker;
using Microsoft.DurableTask.Client;
using Serverless.Core.Messaging;
using Serverless.Core.Participants;
using Serverless.Core.Protocol;
using Serverless.Functions.Messaging;
using Serverless.ParticipantKit;

namespace Serverless.Functions.Coordination;

/// <summary>
/// <c>tx-coordinator</c>: the replies of participants hosted outside this app, each verified with the key of the participant
/// it comes from. A vote or acknowledgement becomes the orchestration's event, naming that participant (the orchestration
/// takes it only for that participant's branch); an in-doubt inquiry is answered by <see cref="InDoubtResolver"/> with the
/// decided command, sent to the participant's inbox (nothing while the transaction may still decide: the participant asks
/// again later).
/// </summary>
public sealed class CoordinatorInboxFunctions(ParticipantKeyring keys, ParticipantQueues queues, CommandQueues commands, ReplyEvents events, InDoubtResolver resolver)
{
    [Function("CoordinatorInbox")]
    public async Task CoordinatorInbox([QueueTrigger(QueueNames.Coordinator)] string message, [DurableClient] DurableTaskClient client, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(client);
        if (!keys.TryDecodeFromParticipant(message, out var reply, out var error))
        {
            await queues.PoisonAsync(QueueNames.Coordinator, message, $"cannot be trusted: {error}", cancellationToken);
            return;
        }

        switch (reply!.Kind)
        {
            case MessageKind.Vote or MessageKind.Ack:
                // A participant outside this app is never sent a one-phase prepare, and holds no decision record: a
                // decision in its vote is not one.
                await events.RaiseAsync(reply with { Decision = null, Outcome = reply.Kind == MessageKind.Vote ? null : reply.Outcome }, client, cancellationToken);
                break;
            case MessageKind.Inquiry:
                var branch = new BranchKey(reply.TransactionId, reply.Branch);
                if (await resolver.ResolveAsync(branch, reply.Participant!, client, cancellationToken) is { } decision)
                {
                    var kind = decision.Decision == Decision.Commit ? MessageKind.Commit : MessageKind.Rollback;
                    await commands.SendAsync(new ProtocolMessage(kind, reply.TransactionId)
                    {
                        Branch = reply.Branch,
                        Participant = reply.Participant,
                        Operation = reply.Operation,
                    }, cancellationToken);
                }

                break;
            default:
                await queues.PoisonAsync(QueueNames.Coordinator, message, $"a {reply.Kind} does not belong in the coordinator's inbox", cancellationToken);
                break;
        }
    }
}
