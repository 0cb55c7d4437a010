using Microsoft.Azure.Functions.Worker;
using Microsoft.DurableTask.Client;
using Serverless.Core.Messaging;
using Serverless.Core.Participants;
using Serverless.Core.Protocol;
using Serverless.Functions.Messaging;
using Serverless.Functions.Participants;
using Serverless.Functions.Storage;

namespace Serverless.Functions.Coordination;

/// <summary>
/// <c>tx-coordinator</c>: the replies of participants hosted outside this app. A vote or acknowledgement becomes the
/// orchestration's event; an in-doubt inquiry is answered by <see cref="InDoubtResolver"/> with the decided command, sent
/// to the participant's inbox (nothing while the transaction may still decide: the participant asks again later).
/// </summary>
public sealed class CoordinatorInboxFunctions(MessageCodec codec, ProtocolQueues queues, ParticipantInbox inbox, InDoubtResolver resolver)
{
    [Function("CoordinatorInbox")]
    public async Task CoordinatorInbox([QueueTrigger(StorageNames.CoordinatorQueue)] string message, [DurableClient] DurableTaskClient client, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(client);
        if (!codec.TryDecode(message, out var reply, out var error))
        {
            await queues.PoisonAsync(StorageNames.CoordinatorQueue, message, $"cannot be trusted: {error}", cancellationToken);
            return;
        }

        switch (reply!.Kind)
        {
            case MessageKind.Vote or MessageKind.Ack:
                await inbox.RaiseAsync(reply, reply.Participant ?? "(remote)", client, cancellationToken);
                break;
            case MessageKind.Inquiry:
                var branch = new BranchKey(reply.TransactionId, reply.Branch);
                if (await resolver.ResolveAsync(branch, reply.Participant!, client, cancellationToken) is { } decision)
                {
                    var kind = decision.Decision == Decision.Commit ? MessageKind.Commit : MessageKind.Rollback;
                    await queues.SendAsync(new ProtocolMessage(kind, reply.TransactionId)
                    {
                        Branch = reply.Branch,
                        Participant = reply.Participant,
                        Operation = reply.Operation,
                    }, cancellationToken);
                }

                break;
            default:
                await queues.PoisonAsync(StorageNames.CoordinatorQueue, message, $"a {reply.Kind} does not belong in the coordinator's inbox", cancellationToken);
                break;
        }
    }
}
