using Serverless.Functions.Storage;

namespace Serverless.Bench;

/// <summary>
/// Storage requests by the kinds the benchmark reports, as counted by the app's own <see cref="StorageMetrics"/>
/// (a pipeline policy on every SDK client, the app's and the Durable engine's, so retries count too). Absolute counts or
/// per-transaction averages.
/// </summary>
public sealed record OpCounts(double QueueSends, double QueueReceives, double QueueDeletes, double TableReads, double TableWrites, double BlobRequests, double Other)
{
    public static readonly OpCounts Zero = new(0, 0, 0, 0, 0, 0, 0);

    public double Total => QueueSends + QueueReceives + QueueDeletes + TableReads + TableWrites + BlobRequests + Other;

    /// <summary>From a <see cref="StorageMetrics.Snapshot"/>, or the same keyed by name (GET /api/metrics/storage).</summary>
    public static OpCounts From(IReadOnlyDictionary<string, long> snapshot)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        double Get(StorageOperation kind) => snapshot.TryGetValue(kind.ToString(), out var n) ? n : 0;
        return new OpCounts(
            Get(StorageOperation.QueueSend),
            Get(StorageOperation.QueueReceive),
            Get(StorageOperation.QueueDelete),
            Get(StorageOperation.TableRead),
            Get(StorageOperation.TableWrite),
            Get(StorageOperation.BlobRequest),
            Get(StorageOperation.QueueUpdate) + Get(StorageOperation.QueueOther) + Get(StorageOperation.TableOther));
    }

    public static OpCounts From(IReadOnlyDictionary<StorageOperation, long> snapshot)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        return From(snapshot.ToDictionary(p => p.Key.ToString(), p => p.Value, StringComparer.Ordinal));
    }

    public OpCounts Plus(OpCounts other)
    {
        ArgumentNullException.ThrowIfNull(other);
        return new(QueueSends + other.QueueSends, QueueReceives + other.QueueReceives, QueueDeletes + other.QueueDeletes,
            TableReads + other.TableReads, TableWrites + other.TableWrites, BlobRequests + other.BlobRequests, Other + other.Other);
    }

    public OpCounts Minus(OpCounts other)
    {
        ArgumentNullException.ThrowIfNull(other);
        return new(QueueSends - other.QueueSends, QueueReceives - other.QueueReceives, QueueDeletes - other.QueueDeletes,
            TableReads - other.TableReads, TableWrites - other.TableWrites, BlobRequests - other.BlobRequests, Other - other.Other);
    }

    public OpCounts Per(double transactions) => transactions <= 0
        ? Zero
        : new(QueueSends / transactions, QueueReceives / transactions, QueueDeletes / transactions,
            TableReads / transactions, TableWrites / transactions, BlobRequests / transactions, Other / transactions);
}
