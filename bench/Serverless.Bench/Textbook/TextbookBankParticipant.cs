using Microsoft.Azure.Functions.Worker;
using Microsoft.DurableTask.Client;
using Serverless.Core.Messaging;
using Serverless.Core.Participants;
using Serverless.Core.Protocol;
using Serverless.Participants.Samples;

namespace Serverless.Bench.Textbook;

/// <summary>
/// The textbook's participant: a queue-triggered function on <see cref="TextbookNames.BankQueue"/> that runs the app's own
/// <see cref="BankResourceManager"/> (Table <c>BankAccounts</c>) and answers with external events on the orchestration:
/// <c>Vote-{branch}</c> after a prepare, <c>Ack-{branch}</c> after a commit or rollback.
/// </summary>
/// <remarks>
/// The function returns (and the host deletes the message) only once the resource manager's step is durable and the event
/// is raised; a failure redelivers the command, which the resource manager answers as the first time. A message that does
/// not decode, or is not a bank command, throws: retried, then moved to the poison queue by the host, never acted on.
/// </remarks>
public sealed class TextbookBankParticipant(MessageCodec codec, BankResourceManager bank)
{
    [Function("TextbookBankParticipant")]
    public async Task Run([QueueTrigger(TextbookNames.BankQueue)] string message, [DurableClient] DurableTaskClient client, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(client);
        if (!codec.TryDecode(message, out var command, out var error))
        {
            throw new InvalidOperationException($"a message on {TextbookNames.BankQueue} cannot be trusted: {error}");
        }

        if (command!.Participant != TextbookNames.Bank || command.Kind is not (MessageKind.Prepare or MessageKind.Commit or MessageKind.Rollback))
        {
            throw new InvalidOperationException($"a {command.Kind} for '{command.Participant}' does not belong on {TextbookNames.BankQueue}");
        }

        var branch = new BranchKey(command.TransactionId, command.Branch);
        switch (command.Kind)
        {
            case MessageKind.Prepare:
                var vote = await bank.PrepareAsync(branch, command.Operation!, cancellationToken);
                await client.RaiseEventAsync(command.TransactionId, TextbookNames.Vote(command.Branch), new TextbookVote(vote.Vote == Vote.Yes, vote.Reason), cancellationToken);
                break;
            case MessageKind.Commit:
                await bank.CommitAsync(branch, command.Operation!, cancellationToken);
                await client.RaiseEventAsync(command.TransactionId, TextbookNames.Ack(command.Branch), nameof(BranchOutcome.Committed), cancellationToken);
                break;
            default:
                await bank.RollbackAsync(branch, command.Operation!, cancellationToken);
                await client.RaiseEventAsync(command.TransactionId, TextbookNames.Ack(command.Branch), nameof(BranchOutcome.RolledBack), cancellationToken);
                break;
        }
    }
}
