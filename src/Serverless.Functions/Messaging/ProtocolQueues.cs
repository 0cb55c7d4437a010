using Azure;
using Azure.Storage.Queues;
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
    public async Task SendAsync(string transactionId, IEnumerable<BranchCommand> commands, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(commands);
        var messages = commands.Select(c => c.ToMessage(transactionId)).ToList();
        if (messages.Count > 1 && BetweenSends(messages[0].Kind) is { } point && CrashPoints.IsArmed(point))
        {
            // Fault injection: one command out, then the crash, the others never sent.
            await SendAsync(messages[0], cancellationToken);
            CrashPoints.Reached(point, transactionId);
            messages.RemoveAt(0);
        }

        await Task.WhenAll(messages.Select(m => SendAsync(m, cancellationToken)));
    }

    /// <summary>Sends a command to the inbox of its participant.</summary>
    public Task SendAsync(ProtocolMessage command, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(command);
        var traced = command.TraceParent is null ? command with { TraceParent = TransactionTelemetry.CurrentTraceParent } : command;
        return SendAsync(StorageNames.ParticipantQueue(command.Participant!), codec.Encode(traced), cancellationToken);
    }

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

    private async Task SendAsync(string queue, string text, CancellationToken cancellationToken)
    {
        var client = queues.GetQueueClient(queue);
        try
        {
            await client.SendMessageAsync(text, null, NeverExpires, cancellationToken);
        }
        catch (RequestFailedException ex) when (ex.Status == 404)
        {
            // A queue never created (a participant deployed later): create it and send again.
            await client.CreateIfNotExistsAsync(cancellationToken: cancellationToken);
            await client.SendMessageAsync(text, null, NeverExpires, cancellationToken);
        }
    }
}
