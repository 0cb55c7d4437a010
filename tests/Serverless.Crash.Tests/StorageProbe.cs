using Azure;
using Azure.Data.Tables;
using Azure.Storage.Queues;

namespace Serverless.Crash.Tests;

/// <summary>What the bank participant durably knows of one branch (its record row in the account's partition).</summary>
public sealed record BranchRow(string TransactionId, int Branch, string Account, string Phase);

/// <summary>
/// Reads storage directly, behind the hosts' backs: it works while every host is dead, and it sees the
/// participant's own records, which the HTTP API does not show.
/// </summary>
public sealed class StorageProbe(string connectionString, string prefix)
{
    private readonly TableServiceClient _tables = new(connectionString);
    private readonly QueueServiceClient _queues = new(connectionString);

    /// <summary>Every bank account: balance and held amount.</summary>
    public async Task<IReadOnlyDictionary<string, (long Balance, long Held)>> AccountsAsync()
    {
        var accounts = new Dictionary<string, (long, long)>(StringComparer.Ordinal);
        await foreach (var e in _tables.GetTableClient($"{prefix}BankAccounts").QueryAsync<TableEntity>(e => e.RowKey == "account"))
        {
            accounts[e.PartitionKey] = (e.GetInt64("Balance") ?? 0, e.GetInt64("Held") ?? 0);
        }

        return accounts;
    }

    /// <summary>Every branch record of the bank participant (row key <c>tx|{transaction}|{branch}</c>).</summary>
    public async Task<IReadOnlyList<BranchRow>> BranchRecordsAsync()
    {
        var rows = new List<BranchRow>();
        await foreach (var e in _tables.GetTableClient($"{prefix}BankAccounts").QueryAsync<TableEntity>(e => e.RowKey != "account"))
        {
            var parts = e.RowKey.Split('|');
            Assert.True(parts is ["tx", _, _], $"unexpected row '{e.RowKey}' in the bank table");
            rows.Add(new BranchRow(parts[1], int.Parse(parts[2], System.Globalization.CultureInfo.InvariantCulture), e.PartitionKey, e.GetString("Phase")!));
        }

        return rows;
    }

    /// <summary>The coordinator's checkpointed status of a transaction ("Preparing"…), or null when there is no record.</summary>
    public async Task<string?> TransactionStatusAsync(string id)
    {
        var header = await _tables.GetTableClient($"{prefix}Transactions").GetEntityIfExistsAsync<TableEntity>(id, "tx");
        return header.HasValue ? header.Value!.GetString("Status") : null;
    }

    /// <summary>Every message in a poison queue of this prefix, as "queue: text".</summary>
    public async Task<IReadOnlyList<string>> PoisonMessagesAsync()
    {
        var found = new List<string>();
        await foreach (var queue in _queues.GetQueuesAsync(prefix: prefix))
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
