using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.DurableTask.Client;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Serverless.Core.Protocol;
using Serverless.Functions.Coordination;
using Serverless.Functions.Hosting;
using Serverless.Functions.Retention;
using Serverless.Functions.Settings;
using Serverless.Testing;

namespace Serverless.Functions.Tests;

/// <summary>
/// History retention on the real engine: finished transactions leave the task hub (instance, history, decision record) once
/// older than <c>TRANSACTIONS_HISTORY_RETENTION</c>; an unfinished one stays, however old, and still ends correctly.
/// </summary>
/// <remarks>
/// Each test starts a host of its own: one purges on a timer every second, the other calls the purge itself. The inventory's
/// queue function is paused, so a transaction naming inventory stays preparing until the test delivers its commands.
/// </remarks>
public sealed class HistoryRetentionTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task PurgeHistory_OnItsSchedule_PurgesFinishedTransactionsPastTheRetention_AndNeverAPreparingOne()
    {
        // The shortest retention the app accepts (1:00:30), and a clock two hours ahead for history retention alone: every
        // transaction that has completed is then past it, while the rest of the app keeps the real time.
        var logs = new LogCapture();
        await using var host = await TestHost.StartAsync(
            new Dictionary<string, string?>
            {
                ["TRANSACTIONS_HISTORY_PURGE_SCHEDULE"] = "*/1 * * * * *",
                ["TRANSACTIONS_HISTORY_RETENTION"] = "01:00:30",
                ["AzureWebJobs.InventoryParticipant.Disabled"] = "true",
                ["Logging:LogLevel:Serverless.Functions.Retention"] = "Information",
            },
            logs: logs,
            configureServices: services => services.AddSingleton(sp => new HistoryRetention(
                sp.GetRequiredService<DecisionStore>(),
                sp.GetRequiredService<TransactionClaims>(),
                sp.GetRequiredService<TransactionsSettings>(),
                new FixedClock(DateTimeOffset.UtcNow.AddHours(2)),
                sp.GetRequiredService<ILogger<HistoryRetention>>())));
        var durable = host.Services.GetRequiredService<DurableTaskClient>();
        var inventory = new PausedInbox(host, "inventory");
        var (committed, aborted, preparing) = (TestHost.Id("purge-commit"), TestHost.Id("purge-abort"), TestHost.Id("purge-keep"));
        var (alice, bob, poor, carol, sku) = (TestHost.Id("alice"), TestHost.Id("bob"), TestHost.Id("poor"), TestHost.Id("carol"), TestHost.Id("sku"));
        await host.PutAccountAsync(alice, 100);
        await host.PutAccountAsync(bob, 0);
        await host.PutAccountAsync(poor, 10);
        await host.PutAccountAsync(carol, 100);
        await host.Client.PutAsJsonAsync($"/api/inventory/items/{sku}", new { stock = 5 });

        // The unfinished one first, so that it is the oldest: its inventory prepare waits in the paused inbox.
        Assert.Equal(HttpStatusCode.Accepted, (await host.StartAsync(Order(preparing, carol, 40, sku, 2))).StatusCode);
        await Eventually.WaitAsync(async () => (await host.GetAccountAsync(carol)).Held == 40, Wait, "carol's debit held");
        Assert.Equal("Committed", await EndStatusAsync(host, TestHost.Transfer(committed, alice, bob, 30)));
        Assert.Equal("Aborted", await EndStatusAsync(host, TestHost.Transfer(aborted, poor, bob, 50)));

        await Eventually.WaitAsync(
            async () => await NotFoundAsync(host, committed) && await NotFoundAsync(host, aborted),
            Wait,
            "the committed and the aborted transaction purged");

        foreach (var id in new[] { committed, aborted })
        {
            Assert.Null(await durable.GetInstanceAsync(id));
            Assert.Empty(await ListAsync(durable, new OrchestrationQuery { InstanceIdPrefix = id }));
            Assert.Null(await host.Decisions.GetAsync(id));
            Assert.True((await host.Services.GetRequiredService<TransactionClaims>().GetAsync(id))?.IsPurged, $"{id} has its tombstone");
        }

        Assert.Contains(logs.Lines, l => l.EventId == 1500 && !l.Message.StartsWith("History purge: 0 ", StringComparison.Ordinal));
        Assert.Equal((70, 0), await host.GetAccountAsync(alice));
        Assert.Equal((30, 0), await host.GetAccountAsync(bob));

        // Older than the retention by now, and passed over by every run so far: still there, still preparing, still holding.
        var kept = await durable.GetInstanceAsync(preparing);
        Assert.NotNull(kept);
        Assert.Equal(OrchestrationRuntimeStatus.Running, kept.RuntimeStatus);
        Assert.Contains(await ListAsync(durable, new OrchestrationQuery()), i => i.InstanceId == preparing);
        var doc = await host.GetStatusAsync(preparing);
        Assert.Equal("Preparing", doc.GetProperty("status").GetString());
        Assert.Equal(JsonValueKind.Null, doc.GetProperty("decision").ValueKind);
        Assert.Equal((100, 40), await host.GetAccountAsync(carol));

        // And it still ends as it should once its participant runs; once finished, it too leaves after the retention.
        await PausedInbox.DeliverUntilEndAsync(host, preparing, Wait, inventory);
        var ended = await host.GetStatusAsync(preparing);
        Assert.Equal("Committed", ended.GetProperty("status").GetString());
        Assert.All(ended.GetProperty("participants").EnumerateArray(), b => Assert.Equal("Committed", b.GetProperty("outcome").GetString()));
        Assert.Equal((60, 0), await host.GetAccountAsync(carol));
        await Eventually.WaitAsync(() => NotFoundAsync(host, preparing), Wait, "the committed transaction purged after the retention");
        Assert.Null(await host.Decisions.GetAsync(preparing));
    }

    [Fact]
    public async Task PurgeAsync_PurgesOnlyCompletedTransactionsThatCompletedBeforeTheCutoff_AtMostTheBoundPerRun()
    {
        // The timer keeps its default (hourly, 3 days): the test runs each pass itself, on a clock it sets.
        await using var host = await TestHost.StartAsync(new Dictionary<string, string?> { ["AzureWebJobs.InventoryParticipant.Disabled"] = "true" });
        var durable = host.Services.GetRequiredService<DurableTaskClient>();
        var settings = host.Services.GetRequiredService<TransactionsSettings>();
        var (slow, running, first, second) = (TestHost.Id("slow"), TestHost.Id("running"), TestHost.Id("first"), TestHost.Id("second"));
        var (alice, bob, carol, sku) = (TestHost.Id("alice"), TestHost.Id("bob"), TestHost.Id("carol"), TestHost.Id("sku"));
        await host.PutAccountAsync(alice, 100);
        await host.PutAccountAsync(bob, 0);
        await host.PutAccountAsync(carol, 100);
        await host.Client.PutAsJsonAsync($"/api/inventory/items/{sku}", new { stock = 5 });

        // "slow" is created before the two transfers and completes after them (its inventory inbox is paused until then);
        // "running" never completes here ("ghost" never votes).
        await host.StartAsync(Order(slow, carol, 10, sku, 1));
        await host.StartAsync(DebitAndGhost(running, carol, 20, timeoutSeconds: 600));
        await Eventually.WaitAsync(async () => (await host.GetAccountAsync(carol)).Held == 30, Wait, "both of carol's debits held");
        Assert.Equal("Committed", await EndStatusAsync(host, TestHost.Transfer(first, alice, bob, 1)));
        Assert.Equal("Committed", await EndStatusAsync(host, TestHost.Transfer(second, alice, bob, 2)));
        await PausedInbox.DeliverUntilEndAsync(host, slow, Wait, new PausedInbox(host, "inventory"));
        Assert.Equal("Committed", (await host.GetStatusAsync(slow)).GetProperty("status").GetString());
        var slowInstance = (await durable.GetInstanceAsync(slow))!;
        var now = DateTimeOffset.UtcNow;

        // The configured retention (3 days): nothing is due.
        var none = await Pass(TimeSpan.FromDays(3)).PurgeAsync(durable);
        Assert.Equal(0, none.Purged);

        // Cutoff just after "slow" was created: it is found (created before), but kept (completed after).
        var createdBefore = await Pass(now - slowInstance.CreatedAt.AddMilliseconds(1)).PurgeAsync(durable);
        Assert.Equal(0, createdBefore.Purged);
        Assert.True(createdBefore.Examined >= 1, $"examined {createdBefore.Examined}");
        Assert.NotNull(await durable.GetInstanceAsync(slow));

        // Cutoff at the instant "slow" completed: the two transfers are due, one per pass with a bound of one.
        var atSlowsEnd = Pass(now - slowInstance.LastUpdatedAt);
        var firstPass = await atSlowsEnd.PurgeAsync(durable, maxInstances: 1);
        var secondPass = await atSlowsEnd.PurgeAsync(durable, maxInstances: 1);
        var thirdPass = await atSlowsEnd.PurgeAsync(durable, maxInstances: 1);
        Assert.Equal((1, true), (firstPass.Purged, firstPass.Truncated));
        Assert.Equal((1, false), (secondPass.Purged, secondPass.Truncated));
        Assert.Equal((0, false), (thirdPass.Purged, thirdPass.Truncated));
        foreach (var id in new[] { first, second })
        {
            Assert.True(await NotFoundAsync(host, id), $"{id} should be purged");
            Assert.Null(await host.Decisions.GetAsync(id));
            Assert.True((await host.Services.GetRequiredService<TransactionClaims>().GetAsync(id))?.IsPurged, $"{id} has its tombstone");
        }

        // A purged id is never used again (I9): its bank branches still hold their records. The same request again, and
        // another under the same id, are refused, and nothing moves.
        var balances = (await host.GetAccountAsync(alice), await host.GetAccountAsync(bob));
        foreach (var body in new[] { TestHost.Transfer(first, alice, bob, 1), TestHost.Transfer(first, bob, alice, 5) })
        {
            using var again = await host.StartAsync(body, waitSeconds: 5);
            Assert.Equal(HttpStatusCode.Conflict, again.StatusCode);
            var problem = await again.Content.ReadFromJsonAsync<JsonElement>();
            Assert.Contains("was purged", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        }

        Assert.Null(await durable.GetInstanceAsync(first));
        Assert.Equal(balances, (await host.GetAccountAsync(alice), await host.GetAccountAsync(bob)));

        Assert.Equal(Decision.Commit, (await host.Decisions.GetAsync(slow))?.Decision);

        // A zero retention: "slow" goes too, and "running" stays, as always.
        Assert.Equal(1, (await Pass(TimeSpan.Zero).PurgeAsync(durable)).Purged);
        Assert.True(await NotFoundAsync(host, slow));
        Assert.Null(await host.Decisions.GetAsync(slow));
        Assert.Equal(OrchestrationRuntimeStatus.Running, (await durable.GetInstanceAsync(running))?.RuntimeStatus);
        Assert.Equal("Preparing", (await host.GetStatusAsync(running)).GetProperty("status").GetString());
        Assert.Equal((90, 20), await host.GetAccountAsync(carol));
        Assert.Equal(HttpStatusCode.Accepted, (await host.Client.PostAsync($"/api/transactions/{running}/abort", null)).StatusCode);
        await Eventually.WaitAsync(async () => await host.GetAccountAsync(carol) == (90, 0), Wait, "the running one's hold released");

        HistoryRetention Pass(TimeSpan retention) => new(
            host.Decisions, host.Services.GetRequiredService<TransactionClaims>(), settings with { HistoryRetention = retention }, new FixedClock(now), NullLogger<HistoryRetention>.Instance);
    }

    [Theory]
    [InlineData("00:00:04", "00:00:04")]
    [InlineData("01:00:00", "01:00:00")]
    public async Task TheApp_WithARetentionShorterThanTheLongestDeadlinePlusTheLease_RefusesToStart_SayingWhatItMustBe(string retention, string shown)
    {
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => TestHost.StartAsync(
            new Dictionary<string, string?> { ["TRANSACTIONS_HISTORY_RETENTION"] = retention }));

        Assert.Equal(
            $"TRANSACTIONS_HISTORY_RETENTION is {shown}, shorter than the longest vote deadline a transaction may ask for (3600 s) plus " +
            "TRANSACTIONS_LOCAL_DELIVERY_LEASE_SECONDS (30 s): a prepare delivered late could then reach its participant after its " +
            "transaction was purged. Set it to at least 01:00:30.",
            error.Message);
    }

    private static async Task<string?> EndStatusAsync(TestHost host, object body)
    {
        var response = await host.StartAsync(body, waitSeconds: 30);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("status").GetString();
    }

    private static async Task<bool> NotFoundAsync(TestHost host, string id) =>
        (await host.Client.GetAsync($"/api/transactions/{id}")).StatusCode == HttpStatusCode.NotFound;

    private static async Task<List<OrchestrationMetadata>> ListAsync(DurableTaskClient client, OrchestrationQuery query)
    {
        var instances = new List<OrchestrationMetadata>();
        await foreach (var instance in client.GetAllInstancesAsync(query))
        {
            instances.Add(instance);
        }

        return instances;
    }

    private static object Order(string id, string account, long amount, string sku, int quantity) => new
    {
        transactionId = id,
        timeoutSeconds = 600,
        participants = new object[]
        {
            new { participant = "bank", operation = new { type = "debit", account, amount } },
            new { participant = "inventory", operation = new { type = "reserve", sku, quantity } },
        },
    };

    private static object DebitAndGhost(string id, string account, long amount, int timeoutSeconds) => new
    {
        transactionId = id,
        timeoutSeconds,
        participants = new object[]
        {
            new { participant = "bank", operation = new { type = "debit", account, amount } },
            new { participant = "ghost", operation = new { anything = true } },
        },
    };

    private sealed class FixedClock(DateTimeOffset now) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => now;
    }
}
