using Azure;
using Azure.Storage.Queues;
using Azure.Storage.Queues.Models;
using Microsoft.Extensions.Logging;
using Serverless.Core.Messaging;
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

    /// <summary>
    /// Sends <paramref name="command"/> to its participant's inbox hidden for <paramref name="lease"/>, as if this process had
    /// received it: durable when this returns, for this process to handle and then delete (<see cref="DeleteAsync"/>) or hand
    /// back to the queue function (<see cref="ReleaseAsync"/>); should it do neither, the queue function gets it when the lease ends.
    /// </summary>
    public async Task<LeasedCommand> SendLeasedAsync(ProtocolMessage command, TimeSpan lease, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(command);
        var queue = StorageNames.ParticipantQueue(command.Participant!);
        var text = Encode(command);
        var receipt = await SendAsync(queue, text, cancellationToken, lease);
        return new LeasedCommand(command.Participant!, queue, text, receipt.MessageId, receipt.PopReceipt);
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

    /// <summary>Ends the lease of a command this process could not handle: its queue function gets it now.</summary>
    public async Task ReleaseAsync(LeasedCommand command, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(command);
        try
        {
            await queues.GetQueueClient(command.Queue).UpdateMessageAsync(command.MessageId, command.PopReceipt, visibilityTimeout: TimeSpan.Zero, cancellationToken: cancellationToken);
        }
        catch (RequestFailedException ex) when (ex.Status is 404 or 400)
        {
            // Gone, or already received by the queue function.
        }
    }

    /// <summary>Sends a command to the inbox of its participant.</summary>
    public Task SendAsync(ProtocolMessage command, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(command);
        return SendAsync(StorageNames.ParticipantQueue(command.Participant!), Encode(command), cancellationToken);
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
