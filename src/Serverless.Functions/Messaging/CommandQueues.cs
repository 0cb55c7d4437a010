using Azure;
using Serverless.Core.Messaging;
using Serverless.Functions.Telemetry;
using Serverless.ParticipantKit;

namespace Serverless.Functions.Messaging;

/// <summary>
/// Sends the coordinator's commands to participant inboxes (<c>tx-participant-{name}</c>), each signed with its participant's
/// own key and carrying the current trace. Messages never expire.
/// </summary>
/// <remarks>When a send returns, the message is durable; after an exception it may or may not have been sent (receivers tolerate duplicates, I5).</remarks>
public sealed class CommandQueues(ParticipantQueues queues, ParticipantKeyring keys)
{
    /// <summary>Sends a command to the inbox of its participant.</summary>
    public async Task SendAsync(ProtocolMessage command, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(command);
        await queues.SendAsync(QueueNames.Participant(command.Participant!), Encode(command), cancellationToken: cancellationToken);
    }

    /// <summary>
    /// Sends <paramref name="command"/> to its participant's inbox hidden for <paramref name="lease"/>, as if this process had
    /// received it: durable when this returns, for this process to handle and then delete (<see cref="DeleteAsync"/>) or hand
    /// back to the queue function (<see cref="ReleaseAsync"/>); should it do neither, the queue function gets it when the lease ends.
    /// </summary>
    public async Task<LeasedCommand> SendLeasedAsync(ProtocolMessage command, TimeSpan lease, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(command);
        var queue = QueueNames.Participant(command.Participant!);
        var text = Encode(command);
        var receipt = await queues.SendAsync(queue, text, lease, cancellationToken);
        return new LeasedCommand(command.Participant!, queue, text, receipt.MessageId, receipt.PopReceipt);
    }

    /// <summary>Deletes a leased command once it is handled; false when it is gone or no longer leased to this process (the queue function got it).</summary>
    public async Task<bool> DeleteAsync(LeasedCommand command, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(command);
        try
        {
            await queues.Service.GetQueueClient(command.Queue).DeleteMessageAsync(command.MessageId, command.PopReceipt, cancellationToken);
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
            await queues.Service.GetQueueClient(command.Queue).UpdateMessageAsync(command.MessageId, command.PopReceipt, visibilityTimeout: TimeSpan.Zero, cancellationToken: cancellationToken);
        }
        catch (RequestFailedException ex) when (ex.Status is 404 or 400)
        {
            // Gone, or already received by the queue function.
        }
    }

    /// <summary>The signed text of a command (with its participant's key), carrying the current trace.</summary>
    public string Encode(ProtocolMessage command)
    {
        ArgumentNullException.ThrowIfNull(command);
        return keys.For(command.Participant!).Encode(TransactionTelemetry.WithTraceParent(command));
    }
}

/// <summary>A command sent hidden to its participant's inbox, for this process to handle: its text, and what deletes it.</summary>
public sealed record LeasedCommand(string Participant, string Queue, string Text, string MessageId, string PopReceipt);
