using Serverless.Core.Messaging;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Azure.Data.Tables;
using Serverless.Core.Protocol;
using Serverless.Functions.Storage;
using Serverless.Testing;

namespace Serverless.Functions.Tests;

/// <summary>
/// The shape of the protocol, read where Durable keeps it: the orchestration alone decides, with one <c>Prepare</c> activity
/// per branch and one <c>Commit</c> activity per Yes branch in its history; the commands of this app's participants are put
/// in their inboxes and handled in the activity's process (deleted once handled); a participant served by another app gets
/// its commands by its queue and answers with events, in the same transaction.
/// </summary>
public sealed class OneDeciderTests(OneDeciderTests.Fixture fixture) : IClassFixture<OneDeciderTests.Fixture>
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    private TestHost Host => fixture.Host;

    [Fact]
    public async Task ACommittedTransfer_HasItsPrepareAndCommitActivitiesInItsDurableHistory_AndNoVoteEvent()
    {
        var (id, alice, bob) = (TestHost.Id("history"), TestHost.Id("alice"), TestHost.Id("bob"));
        await Host.PutAccountAsync(alice, 100);
        await Host.PutAccountAsync(bob, 0);

        using var response = await Host.StartAsync(TestHost.Transfer(id, alice, bob, 30, timeoutSeconds: 60), waitSeconds: 30);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var answered = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("Committed", answered.GetProperty("status").GetString());
        Assert.Equal((70, 0), await Host.GetAccountAsync(alice));
        Assert.Equal((30, 0), await Host.GetAccountAsync(bob));

        var history = await HistoryAsync(id);
        Assert.Equal(["Prepare", "Prepare", "Commit", "Commit"], history.Where(e => e.EventType == "TaskScheduled").Select(e => e.Name));
        Assert.Equal(4, history.Count(e => e.EventType == "TaskCompleted"));
        Assert.DoesNotContain(history, e => e.EventType == "EventRaised");
        Assert.Contains(history, e => e.EventType == "ExecutionCompleted");

        // The decision the Commit activities recorded before their commands left, with the votes it was taken on.
        var recorded = await Host.Decisions.GetAsync(id);
        Assert.Equal(Decision.Commit, recorded?.Decision);
        Assert.Equal([Vote.Yes, Vote.Yes], recorded!.Votes.AsEnumerable());

        // Each command was in the bank's inbox before it was handled here, and deleted once handled.
        await Eventually.WaitAsync(() => Task.FromResult(fixture.Logs.Count(2014, $"Transaction {id}:") == 4), Wait, "two prepares and two commits handled here and deleted");
        Assert.Equal(0, (await Host.Queue(QueueNames.Participant("bank")).GetPropertiesAsync()).Value.ApproximateMessagesCount);

        // The answer is the status document every later read shows.
        Assert.Equal(answered.GetRawText(), (await Host.GetStatusAsync(id)).GetRawText());
    }

    /// <remarks>
    /// The inventory's queue function is disabled on this host, as if another app served it: its commands wait in its inbox
    /// and the test hands them to the participant, whose replies reach the orchestration as events, while the bank's branch
    /// is handled in-process. The transaction commits long before its short deadline.
    /// </remarks>
    [Fact]
    public async Task ATransactionWithAParticipantServedByAnotherApp_CommitsBeforeAShortDeadline_WithThatParticipantsRepliesAsEvents()
    {
        var (id, sku, alice) = (TestHost.Id("mixed"), TestHost.Id("gizmo"), TestHost.Id("alice"));
        await Host.Client.PutAsJsonAsync($"/api/inventory/items/{sku}", new { stock = 5 });
        await Host.PutAccountAsync(alice, 100);

        Assert.Equal(HttpStatusCode.Accepted, (await Host.StartAsync(new
        {
            transactionId = id,
            timeoutSeconds = 5,
            participants = new object[]
            {
                new { participant = "bank", operation = new { type = "debit", account = alice, amount = 10 } },
                new { participant = "inventory", operation = new { type = "reserve", sku, quantity = 2 } },
            },
        })).StatusCode);
        var delivered = await PausedInbox.DeliverUntilEndAsync(Host, id, Wait, new PausedInbox(Host, "inventory"));

        var doc = await Host.GetStatusAsync(id);
        Assert.True(doc.GetProperty("status").GetString() == "Committed", doc.GetRawText());
        Assert.Equal(["inventory Prepare 1", "inventory Commit 1"], delivered.Distinct());
        Assert.Equal((90, 0), await Host.GetAccountAsync(alice));
        var item = await Host.Client.GetFromJsonAsync<JsonElement>($"/api/inventory/items/{sku}");
        Assert.Equal((3, 0), (item.GetProperty("stock").GetInt64(), item.GetProperty("reserved").GetInt64()));
        var events = (await HistoryAsync(id)).Where(e => e.EventType == "EventRaised").Select(e => e.Name).ToList();
        Assert.Equal(["Vote", "Ack"], events.Distinct());
    }

    /// <summary>The instance's Durable history, in order, as the Azure Storage backend keeps it in <c>{hub}History</c>.</summary>
    private async Task<List<(string EventType, string? Name)>> HistoryAsync(string id)
    {
        var rows = new List<(string RowKey, string EventType, string? Name)>();
        await foreach (var row in Host.Table($"{Host.TaskHub}History").QueryAsync<TableEntity>(e => e.PartitionKey == id))
        {
            if (row.GetString("EventType") is { } type)
            {
                rows.Add((row.RowKey, type, row.GetString("Name")));
            }
        }

        return [.. rows.OrderBy(r => r.RowKey, StringComparer.Ordinal).Select(r => (r.EventType, r.Name))];
    }

    public sealed class Fixture : HostFixture
    {
        protected override IReadOnlyDictionary<string, string?>? Settings() => new Dictionary<string, string?>
        {
            ["AzureWebJobs.InventoryParticipant.Disabled"] = "true",
            ["Logging:LogLevel:Serverless.Functions.Participants"] = "Debug",

            // Phase 2 sent once within a test: on a loaded machine the test host's 1 s retry can send a Commit again before
            // the first one's acknowledgement is in, a third Commit activity in the history the first test counts.
            ["TRANSACTIONS_PHASE2_RETRY_SECONDS"] = "30",
        };
    }
}
