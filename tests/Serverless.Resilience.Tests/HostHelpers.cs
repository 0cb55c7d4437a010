using Serverless.Core.Messaging;
using System.Collections.Concurrent;
using System.Net.Http.Json;
using System.Text.Json;
using Azure;
using Azure.Data.Tables;
using Azure.Storage.Queues.Models;
using Microsoft.DurableTask.Client;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Serverless.Functions.Participants;
using Serverless.Functions.Storage;
using Serverless.Participants.Samples;
using Serverless.Testing;

namespace Serverless.Resilience.Tests;

/// <summary>What these suites add to the shared <see cref="TestHost"/>: queue and table probes, and playing a participant by hand.</summary>
public static class HostHelpers
{
    public const string BankInbox = QueueNames.ParticipantPrefix + "bank";

    public static BankResourceManager Bank(this TestHost host) => host.Services.GetRequiredService<BankResourceManager>();

    public static async Task PutAccountOrFailAsync(this TestHost host, string account, long balance)
    {
        using var response = await host.PutAccountAsync(account, balance);
        response.EnsureSuccessStatusCode();
    }

    public static async Task PutItemAsync(this TestHost host, string sku, long stock)
    {
        using var response = await host.Client.PutAsJsonAsync($"/api/inventory/items/{sku}", new { stock });
        response.EnsureSuccessStatusCode();
    }

    public static async Task<(long Stock, long Reserved)> GetItemAsync(this TestHost host, string sku)
    {
        var doc = await host.Client.GetFromJsonAsync<JsonElement>($"/api/inventory/items/{sku}");
        return (doc.GetProperty("stock").GetInt64(), doc.GetProperty("reserved").GetInt64());
    }

    /// <summary>Messages in a queue, counting those leased to a listener (a handled message is deleted only after its function returned); 0 when the queue does not exist.</summary>
    public static async Task<int> CountAsync(this TestHost host, string queue)
    {
        var client = host.Queue(queue);
        return await client.ExistsAsync() ? (await client.GetPropertiesAsync()).Value.ApproximateMessagesCount : 0;
    }

    /// <summary>Empties a queue (a test's own starting point when it shares a host with others).</summary>
    public static async Task ClearAsync(this TestHost host, string queue)
    {
        var client = host.Queue(queue);
        await client.CreateIfNotExistsAsync();
        await client.ClearMessagesAsync();
    }

    /// <summary>Waits until <paramref name="text"/> is in <c>{queue}-poison</c>.</summary>
    public static Task WaitForPoisonAsync(this TestHost host, string queue, string text, TimeSpan timeout) =>
        Eventually.WaitAsync(async () => (await host.PeekAsync(QueueNames.Poison(queue))).Contains(text), timeout, $"the message in {queue}-poison");

    /// <summary>The bank's branch records of one transaction (rows "tx|{id}|{branch}"), as (account, row key, phase).</summary>
    public static async Task<IReadOnlyList<(string Account, string RowKey, string Phase)>> BankRecordsAsync(this TestHost host, string transactionId)
    {
        var rows = new List<(string, string, string)>();
        var (from, to) = ($"tx|{transactionId}|", $"tx|{transactionId}}}");
        var filter = TableClient.CreateQueryFilter($"RowKey ge {from} and RowKey lt {to}");
        await foreach (var e in host.Bank().Table.QueryAsync<TableEntity>(filter))
        {
            rows.Add((e.PartitionKey, e.RowKey, e.GetString("Phase") ?? string.Empty));
        }

        return rows;
    }

    /// <summary>The rows of the decision table (one per decided transaction).</summary>
    public static async Task<int> CountDecisionsAsync(this TestHost host)
    {
        try
        {
            var count = 0;
            await foreach (var _ in host.Decisions.Table.QueryAsync<TableEntity>(select: ["PartitionKey"]))
            {
                count++;
            }

            return count;
        }
        catch (RequestFailedException ex) when (ex.Status == 404)
        {
            return 0;
        }
    }

    /// <summary>Every orchestration instance of the host's task hub, whatever its status.</summary>
    public static async Task<int> CountInstancesAsync(this TestHost host)
    {
        var count = 0;
        await foreach (var _ in host.Durable().GetAllInstancesAsync(new OrchestrationQuery { PageSize = 1000 }))
        {
            count++;
        }

        return count;
    }

    /// <summary>
    /// Plays a participant whose queue function is disabled: takes the commands waiting in its inbox for
    /// <paramref name="transactionId"/> and hands each to <see cref="InAppInbox"/>, the code the queue function runs.
    /// Waits until <paramref name="expected"/> were handled.
    /// </summary>
    public static Task DeliverByHandAsync(this TestHost host, string participant, string transactionId, int expected, TimeSpan timeout) =>
        host.DeliverByHandAsync(participant, transactionId, expected, _ => true, timeout);

    /// <summary>As the overload without <paramref name="which"/>, for the commands of <paramref name="transactionId"/> that <paramref name="which"/> takes.</summary>
    public static async Task DeliverByHandAsync(this TestHost host, string participant, string transactionId, int expected, Func<ProtocolMessage, bool> which, TimeSpan timeout)
    {
        var inbox = host.Services.GetRequiredService<InAppInbox>();
        var queue = host.Queue(QueueNames.Participant(participant));
        var handled = 0;
        await Eventually.WaitAsync(
            async () =>
            {
                if (!await queue.ExistsAsync())
                {
                    return false;
                }

                QueueMessage[] messages = (await queue.ReceiveMessagesAsync(32, TimeSpan.FromSeconds(30))).Value;
                foreach (var message in messages)
                {
                    var text = message.Body.ToString();
                    if (host.CodecOf(participant).TryDecode(text, out var command, out _) && command!.TransactionId == transactionId && which(command))
                    {
                        await inbox.ReceiveAsync(participant, text, host.Durable());
                        await queue.DeleteMessageAsync(message.MessageId, message.PopReceipt);
                        handled++;
                    }
                    else
                    {
                        // Another transaction's: back for whoever wants it.
                        await queue.UpdateMessageAsync(message.MessageId, message.PopReceipt, visibilityTimeout: TimeSpan.Zero);
                    }
                }

                return handled >= expected;
            },
            timeout,
            $"{expected} commands of {transactionId} in the inbox of {participant}");
    }

    /// <summary>
    /// Waits until <paramref name="expected"/> commands of <paramref name="transactionId"/> are in <paramref name="participant"/>'s
    /// inbox and drops them (deletes them unread), as a lost command; returns how many were dropped.
    /// </summary>
    /// <remarks>A decision shows in the status as soon as it is recorded, before the phase-2 activities have sent their commands.</remarks>
    public static async Task<int> DropCommandsAsync(this TestHost host, string participant, string transactionId, int expected, TimeSpan timeout)
    {
        var dropped = 0;
        await Eventually.WaitAsync(
            async () => (dropped += await host.DropCommandsAsync(participant, transactionId)) >= expected,
            timeout,
            $"{expected} commands of {transactionId} in the inbox of {participant} to drop");
        return dropped;
    }

    /// <summary>Removes (loses) every command waiting in a participant's inbox for <paramref name="transactionId"/>; returns how many.</summary>
    public static async Task<int> DropCommandsAsync(this TestHost host, string participant, string transactionId)
    {
        var queue = host.Queue(QueueNames.Participant(participant));
        var dropped = 0;
        QueueMessage[] messages;
        do
        {
            messages = (await queue.ReceiveMessagesAsync(32, TimeSpan.FromSeconds(5))).Value;
            foreach (var message in messages)
            {
                if (host.CodecOf(participant).TryDecode(message.Body.ToString(), out var command, out _) && command!.TransactionId == transactionId)
                {
                    await queue.DeleteMessageAsync(message.MessageId, message.PopReceipt);
                    dropped++;
                }
            }
        }
        while (messages.Length > 0);
        return dropped;
    }
}

/// <summary>One <see cref="TestHost"/> (with its own Azurite) shared by the tests of a class, its log kept in <see cref="Logs"/>.</summary>
public class LoggedHostFixture : IAsyncLifetime
{
    private TestHost? _host;

    public LogCapture Logs { get; } = new();

    public TestHost Host => _host ?? throw new InvalidOperationException("The host fixture has not been initialized yet.");

    public async Task InitializeAsync()
    {
        _host = await TestHost.StartAsync(Settings(), logs: Logs, clientTimeout: TimeSpan.FromSeconds(60));
        await SeedAsync(_host);
    }

    public async Task DisposeAsync()
    {
        if (_host is not null)
        {
            await _host.DisposeAsync();
        }

        GC.SuppressFinalize(this);
    }

    /// <summary>Settings of this fixture's host; override for another configuration.</summary>
    protected virtual IReadOnlyDictionary<string, string?>? Settings() => null;

    /// <summary>What every test of the class finds in place; nothing by default.</summary>
    protected virtual Task SeedAsync(TestHost host) => Task.CompletedTask;
}
