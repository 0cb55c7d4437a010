using Azure;
using Azure.Storage.Queues;
using Azure.Storage.Queues.Models;
using Microsoft.Extensions.Logging;
using Serverless.Core.Messaging;
using Serverless.Functions.Coordination;
using Serverless.Functions.Faults;
using Serverless.Functions.Storage;
using Serverless.Functions.Telemetry;

namespace Serverless.Functions.Messaging;

/// <summary>
/// Sends the protocol's signed messages: commands to participant inboxes (<c>tx-participant-{name}</c>), and copies of
/// messages that must never be acted on to <c>{queue}-poison</c>. Messages never expire.
/// </summary>
/// <remarks>When a send returns, the message is durable; after an exception it may or may not have been sent (receivers tolerate duplicates, I5).</remarks>
public sealed class ProtocolQueues(QueueServiceClient queues, MessageCodec codec, ILogger<ProtocolQueues> logger)
{
    private static readonly TimeSpan NeverExpires = TimeSpan.FromSeconds(-1);

    /// <summary>Sends each command to its participant's inbox, in parallel.</summary>
    public Task SendAsync(string transactionId, IEnumerable<BranchCommand> commands, CancellationToken cancellationToken = default) =>
        SendEachAsync(transactionId, commands, m => SendAsync(m, cancellationToken));

    /// <summary>
    /// Sends each command to its participant's inbox, in parallel, hidden for <paramref name="lease"/> as if this process had
    /// received it, and hands each to <paramref name="sent"/> as soon as it is durable: this process handles it and then
    /// deletes it (<see cref="DeleteAsync"/>); should it not, the queue function gets it when the lease ends.
    /// </summary>
    public Task SendLeasedAsync(
        string transactionId, IEnumerable<BranchCommand> commands, TimeSpan lease, Action<LeasedCommand> sent, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(sent);
        return SendEachAsync(transactionId, commands, async m =>
        {
            var queue = StorageNames.ParticipantQueue(m.Participant!);
            var text = Encode(m);
            var receipt = await SendAsync(queue, text, cancellationToken, lease);
            sent(new LeasedCommand(m.Participant!, queue, text, receipt.MessageId, receipt.PopReceipt));
        });
    }

    /// <summary>Deletes a leased command once it is handled; false when it is gone or no longer leased to this process (the queue function got it).</summary>
    public async Task<bool> DeleteAsync(LeasedCommand command, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(command);
        try
        {
            await queues.GetQueueClient(command.Queue).DeleteMessageAsync(command.MessageId, command.PopReceipt, cancellationToken);
            return true;
        }
        catch (RequestFailedException ex) when (ex.Status is 404 or 400)
        {
            return false;
        }
    }

    /// <summary>Sends a command to the inbox of its participant.</summary>
    public Task SendAsync(ProtocolMessage command, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(command);
        return SendAsync(StorageNames.ParticipantQueue(command.Participant!), Encode(command), cancellationToken);
    }

    private async Task SendEachAsync(string transactionId, IEnumerable<BranchCommand> commands, Func<ProtocolMessage, Task> send)
    {
        ArgumentNullException.ThrowIfNull(commands);
        var messages = commands.Select(c => c.ToMessage(transactionId)).ToList();
        if (messages.Count > 1 && BetweenSends(messages[0].Kind) is { } point && CrashPoints.IsArmed(point))
        {
            // Fault injection: one command out, then the crash, the others never sent.
            await send(messages[0]);
            CrashPoints.Reached(point, transactionId);
            messages.RemoveAt(0);
        }

        await Task.WhenAll(messages.Select(send));
    }

    /// <summary>The signed text of a command, carrying the current trace.</summary>
    private string Encode(ProtocolMessage command) =>
        codec.Encode(command.TraceParent is null ? command with { TraceParent = TransactionTelemetry.CurrentTraceParent } : command);

    /// <summary>Sends a participant's reply to the coordinator's inbox (what a participant hosted outside this app does).</summary>
    public Task ReplyAsync(ProtocolMessage reply, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(reply);
        return SendAsync(StorageNames.CoordinatorQueue, codec.Encode(reply), cancellationToken);
    }

    /// <summary>Keeps a message that must never be acted on in <c>{queue}-poison</c>, and logs why.</summary>
    public async Task PoisonAsync(string queue, string text, string reason, CancellationToken cancellationToken = default)
    {
        logger.MessagePoisoned(queue, reason);
        await SendAsync(StorageNames.PoisonQueue(queue), text, cancellationToken);
    }

    private static CrashPoint? BetweenSends(MessageKind kind) => kind switch
    {
        MessageKind.Prepare => CrashPoint.BetweenPrepareSends,
        MessageKind.Commit or MessageKind.Rollback => CrashPoint.BetweenPhase2Sends,
        _ => null,
    };

    private async Task<SendReceipt> SendAsync(string queue, string text, CancellationToken cancellationToken, TimeSpan? hiddenFor = null)
    {
        var client = queues.GetQueueClient(queue);
        try
        {
            return await client.SendMessageAsync(text, hiddenFor, NeverExpires, cancellationToken);
        }
        catch (RequestFailedException ex) when (ex.Status == 404)
        {
            // A queue never created (a participant deployed later): create it and send again.
            await client.CreateIfNotExistsAsync(cancellationToken: cancellationToken);
            return await client.SendMessageAsync(text, hiddenFor, NeverExpires, cancellationToken);
        }
    }
}

/// <summary>A command sent hidden to its participant's inbox, for this process to handle: its text, and what deletes it.</summary>
public sealed record LeasedCommand(string Participant, string Queue, string Text, string MessageId, string PopReceipt);
