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
/// issued directly with the SDK (no coordinator in between), interleaved in the measured proportions of queue sends,
/// receives (batch size chosen so receives supply the deletes, as the listeners' batches do), deletes, partition
/// queries and entity-group writes. Blob and other requests (few) are not issued: the bound prices them at the
/// mix's average.
/// </summary>
/// <remarks>
/// The reads are the app's own: partition queries on the task hub's instances table and the bank's table as they are
/// at that moment (Azurite's table queries scan the whole table, so their cost grows with the data the run wrote).
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
    /// <param name="tag">Makes the scratch names unique (its letters and digits: a table name has no hyphen).</param>
    /// <param name="cancellationToken">Ends the probe early.</param>
    public async Task<CapacityResult> MeasureAsync(OpCounts mix, int concurrency, TimeSpan duration, IReadOnlyList<(TableClient Table, string PartitionKey)> reads, string tag, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(mix);
        ArgumentNullException.ThrowIfNull(reads);
        ArgumentNullException.ThrowIfNull(tag);
        double[] weights = [mix.QueueSends, mix.QueueReceives, mix.QueueDeletes, mix.TableReads, mix.TableWrites];
        var sum = weights.Sum();
        if (sum <= 0)
        {
            return new CapacityResult(concurrency, 0, 0);
        }

        var queueService = new QueueServiceClient(connectionString);
        var tableService = new TableServiceClient(connectionString);
        tag = new string([.. tag.Where(char.IsAsciiLetterOrDigit)]).ToLowerInvariant();

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

        // The kinds are interleaved in the mix's proportions, one request at a time, and the deadline is checked before
        // each: at a hundred requests per transaction, issuing a transaction's requests kind by kind would measure only
        // the first kinds in a short probe (and one transaction per worker could outlast it by minutes).
        async Task WorkerAsync(int worker)
        {
            var queue = queues[worker];
            var pending = new Queue<QueueMessage>();
            var credits = new double[weights.Length];
            var writes = 0;
            var backlog = 0;
            while (stopwatch.Elapsed < duration && !cancellationToken.IsCancellationRequested)
            {
                for (var k = 0; k < weights.Length; k++)
                {
                    credits[k] += weights[k] / sum;
                }

                var kind = Array.IndexOf(credits, credits.Max());
                credits[kind] -= 1;

                // Receives that fell behind the sends (rounding) catch up rather than let the queue grow; a delete with
                // nothing received yet is skipped.
                if (kind == 1 || backlog > 64)
                {
                    var received = await queue.ReceiveMessagesAsync(perReceive, TimeSpan.FromSeconds(60), cancellationToken);
                    foreach (var message in received.Value)
                    {
                        pending.Enqueue(message);
                        backlog--;
                    }
                }
                else if (kind == 0)
                {
                    await queue.SendMessageAsync(MessageText, cancellationToken);
                    backlog++;
                }
                else if (kind == 2)
                {
                    if (pending.Count == 0)
                    {
                        continue;
                    }

                    var message = pending.Dequeue();
                    await queue.DeleteMessageAsync(message.MessageId, message.PopReceipt, cancellationToken);
                }
                else if (kind == 3)
                {
                    var (table, partition) = reads[(int)(Interlocked.Increment(ref nextRead) % reads.Count)];
                    await foreach (var page in table.QueryAsync<TableEntity>(e => e.PartitionKey == partition, maxPerPage: 1000, cancellationToken: cancellationToken).AsPages())
                    {
                        _ = page.Values.Count;
                    }
                }
                else
                {
                    var partition = $"w{worker}-{writes++ % 16}";
                    await scratch.SubmitTransactionAsync(
                        [
                            new(TableTransactionActionType.UpsertReplace, new TableEntity(partition, "tx") { ["Status"] = "Committing", ["At"] = DateTimeOffset.UtcNow }),
                            new(TableTransactionActionType.UpsertReplace, new TableEntity(partition, "b00") { ["Vote"] = "Yes", ["At"] = DateTimeOffset.UtcNow }),
                        ],
                        cancellationToken);
                }

                Interlocked.Increment(ref operations);
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
