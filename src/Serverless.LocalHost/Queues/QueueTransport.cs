using Serverless.Core.Messaging;
using System.Collections.Concurrent;
using Azure;
using Azure.Storage.Queues;
using Azure.Storage.Queues.Models;
using Azure.Storage.Queues.Specialized;
using Serverless.Functions.Storage;

namespace Serverless.LocalHost.Queues;

/// <summary>
/// The local host's side of Storage queues: receive, delete, release and poison, with base64 messages (host.json
/// <c>messageEncoding</c>). A message that is not base64 is moved to the poison queue unread, as no producer of ours wrote it.
/// </summary>
public sealed class QueueTransport
{
    private static readonly TimeSpan NeverExpires = TimeSpan.FromSeconds(-1);
    private readonly ConcurrentDictionary<string, QueueClient> _clients = new(StringComparer.Ordinal);
    private readonly QueueServiceClient _service;

    /// <param name="connectionString">The storage connection string.</param>
    /// <param name="base64">Whether messages are base64 (host.json <c>messageEncoding</c>, default base64).</param>
    /// <param name="undecodable">Called with the queue name of a message that is not valid base64, after it was poisoned.</param>
    /// <param name="metrics">Counts the listeners' requests (receives, deletes, poison moves) with the app's own, when given.</param>
    public QueueTransport(string connectionString, bool base64, Action<string>? undecodable = null, StorageMetrics? metrics = null)
    {
        var options = new QueueClientOptions { MessageEncoding = base64 ? QueueMessageEncoding.Base64 : QueueMessageEncoding.None };
        if (metrics is not null)
        {
            options.AddPolicy(metrics.Policy(StorageService.Queue), Azure.Core.HttpPipelinePosition.PerRetry);
        }

        options.Retry.MaxRetries = 3;
        options.Retry.Delay = TimeSpan.FromMilliseconds(200);
        options.Retry.NetworkTimeout = TimeSpan.FromSeconds(20);
        options.MessageDecodingFailed += async args =>
        {
            if (args.ReceivedMessage is { } raw)
            {
                var poison = args.Queue.GetParentQueueServiceClient().GetQueueClient(QueueNames.Poison(args.Queue.Name));
                await poison.CreateIfNotExistsAsync(cancellationToken: args.CancellationToken);
                await poison.SendMessageAsync(raw.Body.ToString(), null, NeverExpires, args.CancellationToken);
                await args.Queue.DeleteMessageAsync(raw.MessageId, raw.PopReceipt, args.CancellationToken);
                undecodable?.Invoke(args.Queue.Name);
            }
        };
        _service = new QueueServiceClient(connectionString, options);
    }

    public QueueClient Queue(string name) => _clients.GetOrAdd(name, _service.GetQueueClient);

    public async Task EnsureQueueAsync(string name, CancellationToken cancellationToken = default) =>
        await Queue(name).CreateIfNotExistsAsync(cancellationToken: cancellationToken);

    public async Task<QueueMessage[]> ReceiveAsync(string queue, int maxMessages, TimeSpan visibility, CancellationToken cancellationToken = default)
    {
        try
        {
            var response = await Queue(queue).ReceiveMessagesAsync(maxMessages, visibility, cancellationToken);
            return response.Value;
        }
        catch (RequestFailedException ex) when (ex.Status == 404)
        {
            await EnsureQueueAsync(queue, cancellationToken);
            return [];
        }
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
        var poison = Queue(QueueNames.Poison(queue));
        await poison.CreateIfNotExistsAsync(cancellationToken: cancellationToken);
        await poison.SendMessageAsync(message.Body.ToString(), null, NeverExpires, cancellationToken);
        await DeleteAsync(queue, message.MessageId, message.PopReceipt, cancellationToken);
    }
}
