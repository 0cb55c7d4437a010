using Azure;
using Azure.Storage.Queues;
using Azure.Storage.Queues.Models;
using Microsoft.Extensions.Logging;
using Serverless.Core.Messaging;

namespace Serverless.ParticipantKit;

/// <summary>
/// What a participant sends on the protocol's queues: its signed replies and in-doubt inquiries to the coordinator's inbox
/// (<c>tx-coordinator</c>), and copies of messages that must never be acted on to <c>{queue}-poison</c>. Messages never expire.
/// </summary>
/// <remarks>When a send returns, the message is durable; after an exception it may or may not have been sent (receivers tolerate duplicates, I5).</remarks>
/// <param name="queues">The storage account of the protocol's queues (base64 messages, as queue triggers read them).</param>
/// <param name="keys">The participants' keys: a reply is signed with its sender's.</param>
/// <param name="logger">Logs each poisoned message.</param>
public sealed class ParticipantQueues(QueueServiceClient queues, ParticipantKeyring keys, ILogger<ParticipantQueues> logger)
{
    private static readonly TimeSpan NeverExpires = TimeSpan.FromSeconds(-1);

    /// <summary>The storage account of the protocol's queues.</summary>
    public QueueServiceClient Service => queues;

    /// <summary>Sends a participant's reply (or inquiry), signed with the key of <see cref="ProtocolMessage.Participant"/>, to the coordinator's inbox.</summary>
    public Task ReplyAsync(ProtocolMessage reply, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(reply);
        ArgumentException.ThrowIfNullOrEmpty(reply.Participant, nameof(reply));
        return SendAsync(QueueNames.Coordinator, keys.For(reply.Participant).Encode(reply), cancellationToken: cancellationToken);
    }

    /// <summary>Keeps a message that must never be acted on in <c>{queue}-poison</c>, and logs why.</summary>
    public async Task PoisonAsync(string queue, string text, string reason, CancellationToken cancellationToken = default)
    {
        logger.MessagePoisoned(queue, reason);
        await SendAsync(QueueNames.Poison(queue), text, cancellationToken: cancellationToken);
    }

    /// <summary>Sends <paramref name="text"/> to <paramref name="queue"/>, hidden for <paramref name="hiddenFor"/> when given; creates the queue if it is missing.</summary>
    public async Task<SendReceipt> SendAsync(string queue, string text, TimeSpan? hiddenFor = null, CancellationToken cancellationToken = default)
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
