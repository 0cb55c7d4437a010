using System.Collections.Concurrent;
using Azure;
using Azure.Storage.Queues;
using Azure.Storage.Queues.Models;
using Serverless.Runtime.Storage;

namespace Serverless.Runtime.Messaging;

/// <summary>Sends protocol messages; a delayed message is a durable timer.</summary>
public interface IMessageSender
{
    /// <summary>
    /// Sends <paramref name="text"/> to <paramref name="queue"/>, invisible for <paramref name="delay"/>; it never
    /// expires. When this returns the message is durable; after an exception it may or may not have been sent.
    /// </summary>
    Task SendAsync(string queue, string text, TimeSpan delay = default, CancellationToken cancellationToken = default);
}

/// <summary>
/// Thin wrapper over Storage queues: base64 messages (what the Functions queue trigger expects by
/// default), no expiry, queues created once, and an in-process wake-up for local listeners.
/// </summary>
public sealed class QueueTransport(QueueServiceClient service) : IMessageSender
{
    private static readonly TimeSpan NeverExpires = TimeSpan.FromSeconds(-1);
    private readonly ConcurrentDictionary<string, QueueClient> _clients = new(StringComparer.Ordinal);

    /// <summary>Raised after a message was sent without delay to a queue, so a listener in this process can poll at once.</summary>
    public event Action<string>? MessageSent;

    public QueueClient Queue(string name) => _clients.GetOrAdd(name, service.GetQueueClient);

    public async Task EnsureQueuesAsync(IEnumerable<string> names, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(names);
        foreach (var name in names)
        {
            await Queue(name).CreateIfNotExistsAsync(cancellationToken: cancellationToken);
        }
    }

    public async Task SendAsync(string queue, string text, TimeSpan delay = default, CancellationToken cancellationToken = default)
    {
        var client = Queue(queue);
        try
        {
            await client.SendMessageAsync(text, delay > TimeSpan.Zero ? delay : null, NeverExpires, cancellationToken);
        }
        catch (RequestFailedException ex) when (ex.Status == 404)
        {
            // A queue deleted or never created (a participant deployed later): create it and send again.
            await client.CreateIfNotExistsAsync(cancellationToken: cancellationToken);
            await client.SendMessageAsync(text, delay > TimeSpan.Zero ? delay : null, NeverExpires, cancellationToken);
        }

        if (delay <= TimeSpan.Zero)
        {
            MessageSent?.Invoke(queue);
        }
    }

    public async Task<QueueMessage[]> ReceiveAsync(string queue, int maxMessages, TimeSpan visibility, CancellationToken cancellationToken = default)
    {
        var response = await Queue(queue).ReceiveMessagesAsync(maxMessages, visibility, cancellationToken);
        return response.Value;
    }

    /// <summary>Deletes a received message; a message already gone (deleted by a duplicate delivery) counts as deleted.</summary>
    public async Task DeleteAsync(string queue, string messageId, string popReceipt, CancellationToken cancellationToken = default)
    {
        try
        {
            await Queue(queue).DeleteMessageAsync(messageId, popReceipt, cancellationToken);
        }
        catch (RequestFailedException ex) when (ex.Status == 404)
        {
        }
    }

    /// <summary>Makes a received message visible again after <paramref name="delay"/> (a retry after failure).</summary>
    public async Task ReleaseAsync(string queue, string messageId, string popReceipt, TimeSpan delay, CancellationToken cancellationToken = default)
    {
        try
        {
            await Queue(queue).UpdateMessageAsync(messageId, popReceipt, visibilityTimeout: delay, cancellationToken: cancellationToken);
        }
        catch (RequestFailedException ex) when (ex.Status == 404)
        {
        }
    }

    /// <summary>Moves a message to <c>{queue}-poison</c>: sent there first, then deleted here, so it is never lost.</summary>
    public async Task PoisonAsync(string queue, QueueMessage message, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(message);
        var poison = Queue(StorageNames.PoisonQueue(queue));
        await poison.CreateIfNotExistsAsync(cancellationToken: cancellationToken);
        await poison.SendMessageAsync(message.Body.ToString(), null, NeverExpires, cancellationToken);
        await DeleteAsync(queue, message.MessageId, message.PopReceipt, cancellationToken);
    }
}
