using System.Diagnostics;
using Azure;
using Azure.Data.Tables;
using Azure.Storage.Queues;
using Azure.Storage.Queues.Models;

namespace Serverless.Bench;

/// <summary>What Azurite sustained for one operation mix.</summary>
/// <param name="Concurrency">Workers issuing requests, one request at a time each.</param>
/// <param name="Operations">Requests completed.</param>
/// <param name="Seconds">How long they took.</param>
public sealed record CapacityResult(int Concurrency, long Operations, double Seconds)
{
    public double OperationsPerSecond => Operations / Seconds;
}

/// <summary>
/// Measures how many storage requests per second this Azurite serves for the coordinator's own operation mix,
/// issued directly with the SDK (no coordinator in between): per synthetic transaction, the measured number of
/// queue sends, receives (batch size chosen so receives supply the deletes, as the listeners' batches do),
/// deletes, partition queries and entity-group writes.
/// </summary>
/// <remarks>
/// The reads are the app's own: partition queries on the transactions table and the bank's table as they are at
/// that moment (Azurite's table queries scan the whole table, so their cost grows with the data the run wrote).
/// The writes are two-entity upserts into a scratch table; the queues are scratch queues, one per worker. All are
/// deleted afterwards so that leftovers do not slow the next phase.
/// </remarks>
public sealed class AzuriteCapacity(string connectionString)
{
    private static readonly string MessageText = new('x', 360);

    /// <param name="mix">Requests per transaction by kind (the phase's measured counts).</param>
    /// <param name="concurrency">How many workers, each one request at a time.</param>
    /// <param name="duration">How long to measure.</param>
    /// <param name="reads">Tables and partition keys to query, as the app does; taken round-robin.</param>
    /// <param name="tag">Makes the scratch names unique.</param>
    /// <param name="cancellationToken">Ends the probe early.</param>
    public async Task<CapacityResult> MeasureAsync(OpCounts mix, int concurrency, TimeSpan duration, IReadOnlyList<(TableClient Table, string PartitionKey)> reads, string tag, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(mix);
        ArgumentNullException.ThrowIfNull(reads);
        var queueService = new QueueServiceClient(connectionString);
        var tableService = new TableServiceClient(connectionString);

        // One queue per worker, so that what a worker receives is what it sent: the queues stay as short as the
        // app's, which matters because Azurite's receive scans every message of the account.
        var queues = Enumerable.Range(0, concurrency).Select(i => queueService.GetQueueClient($"cap{tag}-q{i}")).ToArray();
        var scratch = tableService.GetTableClient($"cap{tag}scratch");
        await Parallel.ForEachAsync(queues, new ParallelOptions { MaxDegreeOfParallelism = 8, CancellationToken = cancellationToken }, async (queue, ct) =>
            await queue.CreateIfNotExistsAsync(cancellationToken: ct));
        await scratch.CreateIfNotExistsAsync(cancellationToken);
        var perReceive = Math.Clamp((int)Math.Ceiling(mix.QueueDeletes / Math.Max(mix.QueueReceives, 0.01)), 1, 32);
        long operations = 0;
        long nextRead = 0;
        var stopwatch = Stopwatch.StartNew();

        async Task WorkerAsync(int worker)
        {
            var queue = queues[worker];
            var pending = new Queue<QueueMessage>();
            double sends = 0, receives = 0, deletes = 0, tableReads = 0, tableWrites = 0;
            var writes = 0;
            var backlog = 0;
            while (stopwatch.Elapsed < duration && !cancellationToken.IsCancellationRequested)
            {
                // One synthetic transaction: fractional counts carry over, so the long-run mix is exact.
                sends += mix.QueueSends;
                receives += mix.QueueReceives;
                deletes += mix.QueueDeletes;
                tableReads += mix.TableReads;
                tableWrites += mix.TableWrites;
                for (; sends >= 1; sends--)
                {
                    await queue.SendMessageAsync(MessageText, cancellationToken);
                    backlog++;
                    Interlocked.Increment(ref operations);
                }

                for (; receives >= 1; receives--)
                {
                    var received = await queue.ReceiveMessagesAsync(perReceive, TimeSpan.FromSeconds(60), cancellationToken);
                    foreach (var message in received.Value)
                    {
                        pending.Enqueue(message);
                        backlog--;
                    }

                    Interlocked.Increment(ref operations);
                }

                for (; deletes >= 1 && pending.Count > 0; deletes--)
                {
                    var message = pending.Dequeue();
                    await queue.DeleteMessageAsync(message.MessageId, message.PopReceipt, cancellationToken);
                    Interlocked.Increment(ref operations);
                }

                // Receives that fell behind the sends (rounding) catch up here rather than let the queue grow.
                if (backlog > 64)
                {
                    receives += 1;
                }

                for (; tableReads >= 1; tableReads--)
                {
                    var (table, partition) = reads[(int)(Interlocked.Increment(ref nextRead) % reads.Count)];
                    await foreach (var page in table.QueryAsync<TableEntity>(e => e.PartitionKey == partition, maxPerPage: 1000, cancellationToken: cancellationToken).AsPages())
                    {
                        _ = page.Values.Count;
                    }

                    Interlocked.Increment(ref operations);
                }

                for (; tableWrites >= 1; tableWrites--)
                {
                    var partition = $"w{worker}-{writes++ % 16}";
                    await scratch.SubmitTransactionAsync(
                        [
                            new(TableTransactionActionType.UpsertReplace, new TableEntity(partition, "tx") { ["Status"] = "Committing", ["At"] = DateTimeOffset.UtcNow }),
                            new(TableTransactionActionType.UpsertReplace, new TableEntity(partition, "b00") { ["Vote"] = "Yes", ["At"] = DateTimeOffset.UtcNow }),
                        ],
                        cancellationToken);
                    Interlocked.Increment(ref operations);
                }
            }
        }

        double seconds;
        try
        {
            await Task.WhenAll(Enumerable.Range(0, concurrency).Select(w => Task.Run(() => WorkerAsync(w), cancellationToken)));
            seconds = stopwatch.Elapsed.TotalSeconds;
        }
        finally
        {
            await Parallel.ForEachAsync(queues, new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (queue, _) =>
                await queue.DeleteIfExistsAsync(CancellationToken.None));

            try
            {
                await scratch.DeleteAsync(CancellationToken.None);
            }
            catch (RequestFailedException)
            {
            }
        }

        return new CapacityResult(concurrency, Interlocked.Read(ref operations), seconds);
    }
}
