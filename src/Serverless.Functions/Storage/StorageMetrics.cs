using System.Diagnostics.Metrics;
using Azure.Core;
using Azure.Core.Pipeline;

namespace Serverless.Functions.Storage;

/// <summary>The kinds of storage operation the benchmark reports per transaction.</summary>
public enum StorageOperation
{
    QueueSend,
    QueueReceive,
    QueueDelete,
    QueueUpdate,
    QueueOther,
    TableRead,
    TableWrite,
    TableOther,
    BlobRequest,
}

/// <summary>The storage service a client talks to.</summary>
public enum StorageService
{
    Queue,
    Table,
    Blob,
}

/// <summary>
/// Counts every storage request the app makes, by kind, as seen on the wire. Exposed as the
/// <c>serverless.storage.operations</c> counter of the <c>Serverless.Storage</c> meter and as a snapshot.
/// </summary>
public sealed class StorageMetrics : IDisposable
{
    public const string MeterName = "Serverless.Storage";
    private readonly long[] _counts = new long[Enum.GetValues<StorageOperation>().Length];
    private readonly Meter _meter;
    private readonly Counter<long> _counter;

    public StorageMetrics()
    {
        _meter = new Meter(MeterName);
        _counter = _meter.CreateCounter<long>("serverless.storage.operations", description: "Storage requests sent, by kind.");
    }

    /// <summary>Raised with the queue's name after a message was sent to it, so that a local listener of that queue can poll at once.</summary>
    public event Action<string>? MessageSent;

    public IReadOnlyDictionary<StorageOperation, long> Snapshot() =>
        Enum.GetValues<StorageOperation>().ToDictionary(k => k, k => Interlocked.Read(ref _counts[(int)k]));

    internal void Record(StorageOperation operation)
    {
        Interlocked.Increment(ref _counts[(int)operation]);
        _counter.Add(1, new KeyValuePair<string, object?>("kind", operation.ToString()));
    }

    /// <summary>The pipeline policy to add to a client of <paramref name="service"/> (per retry, so retries count too).</summary>
    public HttpPipelinePolicy Policy(StorageService service) => new CountingPolicy(this, service);

    public void Dispose() => _meter.Dispose();

    internal static StorageOperation Classify(Request request, StorageService service)
    {
        var path = request.Uri.Path;
        var method = request.Method;
        if (service == StorageService.Blob)
        {
            return StorageOperation.BlobRequest;
        }

        if (service == StorageService.Queue)
        {
            if (!path.EndsWith("/messages", StringComparison.Ordinal) && !path.Contains("/messages/", StringComparison.Ordinal))
            {
                return StorageOperation.QueueOther;
            }

            if (method == RequestMethod.Post) return StorageOperation.QueueSend;
            if (method == RequestMethod.Get) return StorageOperation.QueueReceive;
            if (method == RequestMethod.Delete) return StorageOperation.QueueDelete;
            if (method == RequestMethod.Put) return StorageOperation.QueueUpdate;
            return StorageOperation.QueueOther;
        }

        if (path.EndsWith("/Tables", StringComparison.Ordinal) || path.Contains("/Tables(", StringComparison.Ordinal))
        {
            return StorageOperation.TableOther;
        }

        return method == RequestMethod.Get ? StorageOperation.TableRead : StorageOperation.TableWrite;
    }

    private sealed class CountingPolicy(StorageMetrics metrics, StorageService service) : HttpPipelineSynchronousPolicy
    {
        public override void OnSendingRequest(HttpMessage message) => metrics.Record(Classify(message.Request, service));

        public override void OnReceivedResponse(HttpMessage message)
        {
            // A message sent hidden (a leased command this process handles itself, a delayed one) is nothing to poll for yet.
            if (service == StorageService.Queue && message.Response.Status == 201 && message.Request.Method == RequestMethod.Post
                && !message.Request.Uri.Query.Contains("visibilitytimeout=", StringComparison.OrdinalIgnoreCase) && metrics.MessageSent is { } sent)
            {
                // The path is /{queue}/messages (Azurite puts the account first: /{account}/{queue}/messages).
                var segments = message.Request.Uri.Path.Split('/', StringSplitOptions.RemoveEmptyEntries);
                if (segments.Length >= 2 && segments[^1] == "messages")
                {
                    sent(segments[^2]);
                }
            }
        }
    }
}
