using System.Text.Json;
using Azure;
using Azure.Data.Tables;
using Azure.Storage.Queues;

namespace Serverless.Crash.Tests;

/// <summary>What the bank participant durably knows of one branch (its record row in the account's partition).</summary>
public sealed record BranchRow(string TransactionId, int Branch, string Account, string Phase);

/// <summary>
/// Reads storage directly, behind the hosts' backs: it works while every host is dead, and it sees what the HTTP API does
/// not show: the participant's own records, the decision records, the poison queues.
/// </summary>
public sealed class StorageProbe(string connectionString, string taskHub = HostProcess.TaskHub)
{
    private readonly TableServiceClient _tables = new(connectionString);
    private readonly QueueServiceClient _queues = new(connectionString);

    /// <summary>Every bank account: balance and held amount.</summary>
    public async Task<IReadOnlyDictionary<string, (long Balance, long Held)>> AccountsAsync()
    {
        var accounts = new Dictionary<string, (long, long)>(StringComparer.Ordinal);
        await foreach (var e in _tables.GetTableClient("BankAccounts").QueryAsync<TableEntity>(e => e.RowKey == "account"))
        {
            accounts[e.PartitionKey] = (e.GetInt64("Balance") ?? 0, e.GetInt64("Held") ?? 0);
        }

        return accounts;
    }

    /// <summary>Every branch record of the bank participant (row key <c>tx|{transaction}|{branch}</c>).</summary>
    public async Task<IReadOnlyList<BranchRow>> BranchRecordsAsync()
    {
        var rows = new List<BranchRow>();
        await foreach (var e in _tables.GetTableClient("BankAccounts").QueryAsync<TableEntity>(e => e.RowKey != "account"))
        {
            var parts = e.RowKey.Split('|');
            Assert.True(parts is ["tx", _, _], $"unexpected row '{e.RowKey}' in the bank table");
            rows.Add(new BranchRow(parts[1], int.Parse(parts[2], System.Globalization.CultureInfo.InvariantCulture), e.PartitionKey, e.GetString("Phase")!));
        }

        return rows;
    }

    /// <summary>
    /// Every recorded decision of the task hub (table <c>{hub}Decisions</c>, one decision row per transaction): "Commit" or "Abort".
    /// </summary>
    public async Task<IReadOnlyDictionary<string, string>> DecisionsAsync()
    {
        var decisions = new Dictionary<string, string>(StringComparer.Ordinal);
        try
        {
            await foreach (var e in _tables.GetTableClient($"{taskHub}Decisions").QueryAsync<TableEntity>(e => e.RowKey == "decision"))
            {
                Assert.False(decisions.ContainsKey(e.PartitionKey), $"two decision rows for {e.PartitionKey}");
                decisions[e.PartitionKey] = e.GetString("Decision")!;
            }
        }
        catch (RequestFailedException ex) when (ex.Status == 404)
        {
        }

        return decisions;
    }

    /// <summary>The recorded decision of one transaction ("Commit" or "Abort"), or null while none is recorded.</summary>
    public async Task<string?> DecisionAsync(string id)
    {
        try
        {
            var row = await _tables.GetTableClient($"{taskHub}Decisions").GetEntityIfExistsAsync<TableEntity>(id, "decision");
            return row.HasValue ? row.Value!.GetString("Decision") : null;
        }
        catch (RequestFailedException ex) when (ex.Status == 404)
        {
            return null;
        }
    }

    /// <summary>The status the orchestration last published for a transaction ("Preparing"…), or null when there is no instance.</summary>
    public async Task<string?> TransactionStatusAsync(string id)
    {
        var instance = await _tables.GetTableClient($"{taskHub}Instances").GetEntityIfExistsAsync<TableEntity>(id, string.Empty);
        if (!instance.HasValue || instance.Value!.GetString("CustomStatus") is not { Length: > 0 } status)
        {
            return instance.HasValue ? "Preparing" : null;
        }

        using var document = JsonDocument.Parse(status);
        return document.RootElement.EnumerateObject().FirstOrDefault(p => p.Name.Equals("status", StringComparison.OrdinalIgnoreCase)).Value.GetString();
    }

    /// <summary>Every orchestration instance of the task hub and its Durable runtime status ("Running", "Completed", "Failed"…).</summary>
    public async Task<IReadOnlyDictionary<string, string>> InstanceStatusesAsync()
    {
        var statuses = new Dictionary<string, string>(StringComparer.Ordinal);
        await foreach (var e in _tables.GetTableClient($"{taskHub}Instances").QueryAsync<TableEntity>(select: ["PartitionKey", "RuntimeStatus"]))
        {
            statuses[e.PartitionKey] = e.GetString("RuntimeStatus") ?? "?";
        }

        return statuses;
    }

    /// <summary>Every message in a poison queue, as "queue: text".</summary>
    public async Task<IReadOnlyList<string>> PoisonMessagesAsync()
    {
        var found = new List<string>();
        await foreach (var queue in _queues.GetQueuesAsync())
        {
            if (!queue.Name.EndsWith("-poison", StringComparison.Ordinal))
            {
                continue;
            }

            try
            {
                var messages = await _queues.GetQueueClient(queue.Name).PeekMessagesAsync(32);
                found.AddRange(messages.Value.Select(m => $"{queue.Name}: {m.Body}"));
            }
            catch (RequestFailedException ex) when (ex.Status == 404)
            {
            }
        }

        return found;
    }
}
