using System.Globalization;
using System.Text;
using Azure;
using Azure.Storage.Queues;
using Azure.Storage.Queues.Models;

namespace Serverless.Functions.Storage;

/// <summary>
/// How far behind Durable Task's engine is: the age of the oldest message waiting in the task hub's queues, its control
/// queues (<c>{hub}-control-NN</c>: starts, activity results, events, fired timers) and its work-item queue
/// (<c>{hub}-workitems</c>: activities), read by peeking the first messages of each, as the Azure Functions scale controller
/// reads the same queues to tell whether an app is falling behind. A fired durable timer waits from the time it fired, not
/// from when it was set. A message received before (its receiver stopped, or the engine put it back to wait for another)
/// does not count: when it became visible again is not known. Read at most once per <see cref="ReadEvery"/> and shared by
/// every caller in between (a read costs one request per queue); a queue that does not exist yet waits for nothing.
/// </summary>
public sealed class EngineLag(StorageClients storage, string taskHub, TimeProvider time)
{
    /// <summary>How long one reading is used before the queues are peeked again.</summary>
    public static readonly TimeSpan ReadEvery = TimeSpan.FromSeconds(1);

    /// <summary>How many messages of each queue are looked at: the first ones, which waited longest.</summary>
    private const int PeekCount = 8;

    private readonly object _gate = new();
    private readonly string _prefix = taskHub.ToLowerInvariant() + "-";
    private Task<TimeSpan>? _reading;
    private DateTimeOffset _readAt;
    private IReadOnlyList<QueueClient> _queues = [];

    /// <summary>The engine's lag: zero when nothing waits.</summary>
    public Task<TimeSpan> GetAsync(CancellationToken cancellationToken = default)
    {
        lock (_gate)
        {
            var now = time.GetUtcNow();
            if (_reading is null || (_reading.IsCompleted && (!_reading.IsCompletedSuccessfully || now - _readAt >= ReadEvery)))
            {
                _readAt = now;
                _reading = ReadAsync();
            }

            return _reading.WaitAsync(cancellationToken);
        }
    }

    private async Task<TimeSpan> ReadAsync()
    {
        if (_queues.Count == 0)
        {
            // Listed once they exist: the engine creates them when it starts, and their number (partitionCount) is fixed.
            var queues = new List<QueueClient>();
            await foreach (var queue in storage.TaskHubQueues.GetQueuesAsync(prefix: _prefix))
            {
                if (queue.Name == _prefix + "workitems" || queue.Name.StartsWith(_prefix + "control-", StringComparison.Ordinal))
                {
                    queues.Add(storage.TaskHubQueues.GetQueueClient(queue.Name));
                }
            }

            _queues = queues;
        }

        var ages = await Task.WhenAll(_queues.Select(OldestAsync));
        return ages.DefaultIfEmpty(TimeSpan.Zero).Max();
    }

    private async Task<TimeSpan> OldestAsync(QueueClient queue)
    {
        PeekedMessage[] first;
        try
        {
            first = (await queue.PeekMessagesAsync(maxMessages: PeekCount)).Value;
        }
        catch (RequestFailedException ex) when (ex.Status == 404)
        {
            return TimeSpan.Zero;
        }

        var now = time.GetUtcNow();
        var oldest = TimeSpan.Zero;
        foreach (var message in first)
        {
            if (message.DequeueCount == 0 && message.InsertedOn is { } inserted)
            {
                var age = now - (FiredAt(message.Body) is { } fired && fired > inserted ? fired : inserted);
                oldest = age > oldest ? age : oldest;
            }
        }

        return oldest;
    }

    /// <summary>When a durable timer's message fired: its <c>FireAt</c> (the engine's JSON), or null for any other message.</summary>
    public static DateTimeOffset? FiredAt(BinaryData? body)
    {
        const string Field = "\"FireAt\":\"";
        var text = body is null ? string.Empty : Encoding.UTF8.GetString(body.ToMemory().Span);
        var start = text.IndexOf(Field, StringComparison.Ordinal);
        if (start < 0)
        {
            return null;
        }

        start += Field.Length;
        var end = text.IndexOf('"', start);
        return end > start && DateTimeOffset.TryParse(text.AsSpan(start, end - start), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var fireAt)
            ? fireAt
            : null;
    }
}
