using System.Diagnostics;
using Azure.Data.Tables;
using Azure.Storage.Queues;
using Serverless.Testing;

namespace Serverless.Bench;

/// <summary>TEMPORARY: per-operation Azurite rates by concurrency and table size.</summary>
public static class ProbeExperiment
{
    public static async Task RunAsync()
    {
        await using var azurite = await AzuriteInstance.StartAsync();
        var tables = new TableServiceClient(azurite.ConnectionString);
        var queues = new QueueServiceClient(azurite.ConnectionString);
        var table = tables.GetTableClient("exp");
        await table.CreateIfNotExistsAsync();
        var scratch = tables.GetTableClient("scratch");
        await scratch.CreateIfNotExistsAsync();
        var queue = queues.GetQueueClient("expq");
        await queue.CreateIfNotExistsAsync();
        var rows = 0;
        foreach (var target in new[] { 0, 3000, 9000 })
        {
            for (; rows < target; rows += 3)
            {
                var pk = $"p{rows / 3}";
                await table.SubmitTransactionAsync([
                    new(TableTransactionActionType.Add, new TableEntity(pk, "tx") { ["S"] = "x" }),
                    new(TableTransactionActionType.Add, new TableEntity(pk, "b00") { ["S"] = "x" }),
                    new(TableTransactionActionType.Add, new TableEntity(pk, "b01") { ["S"] = "x" })]);
            }

            var parts = Math.Max(1, rows / 3);
            foreach (var c in new[] { 1, 8, 32, 128 })
            {
                var q = await RateAsync(c, async (w, i) =>
                {
                    await foreach (var _ in table.QueryAsync<TableEntity>(e => e.PartitionKey == $"p{(w * 31 + i) % parts}"))
                    {
                    }
                });
                var bw = await RateAsync(c, (w, i) => scratch.SubmitTransactionAsync([
                    new(TableTransactionActionType.UpsertReplace, new TableEntity($"w{w}-{i % 16}", "tx") { ["S"] = "x" }),
                    new(TableTransactionActionType.UpsertReplace, new TableEntity($"w{w}-{i % 16}", "b00") { ["S"] = "x" })]));
                var s = await RateAsync(c, (w, i) => queue.SendMessageAsync(new string('x', 360)));
                var r = await RateAsync(c, async (w, i) =>
                {
                    var got = await queue.ReceiveMessagesAsync(1, TimeSpan.FromSeconds(60));
                    foreach (var m in got.Value)
                    {
                        await queue.DeleteMessageAsync(m.MessageId, m.PopReceipt);
                    }
                });
                Console.WriteLine($"rows {rows,5} c {c,3}: query {q,6:0}/s  batch2 {bw,6:0}/s  send {s,6:0}/s  recv+del {r,6:0}/s");
            }
        }
    }

    private static async Task<double> RateAsync(int concurrency, Func<int, int, Task> op)
    {
        long n = 0;
        var sw = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, concurrency).Select(w => Task.Run(async () =>
        {
            for (var i = 0; sw.Elapsed < TimeSpan.FromSeconds(1.5); i++)
            {
                await op(w, i);
                Interlocked.Increment(ref n);
            }
        })));
        return n / sw.Elapsed.TotalSeconds;
    }
}
