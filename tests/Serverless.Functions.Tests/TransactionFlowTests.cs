using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Serverless.Testing;

namespace Serverless.Functions.Tests;

/// <summary>Whole transactions through the HTTP API: commit, the three ways to abort, idempotent starts, a three-branch order.</summary>
[Collection(AzuriteCollection.Name)]
public sealed class TransactionFlowTests(AzuriteFixture azurite)
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Transfer_WhenFundsSuffice_CommitsAndMovesTheMoney()
    {
        await using var host = await TestHost.StartAsync(azurite.Azurite.ConnectionString);
        await host.PutAccountAsync("alice", 100);
        await host.PutAccountAsync("bob", 5);

        var response = await host.StartAsync(TestHost.Transfer("order-1001", "alice", "bob", 30), waitSeconds: 20);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var doc = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("order-1001", doc.GetProperty("id").GetString());
        Assert.Equal("Committed", doc.GetProperty("status").GetString());
        Assert.Equal("Commit", doc.GetProperty("decision").GetString());
        Assert.Equal(JsonValueKind.Null, doc.GetProperty("reason").ValueKind);
        Assert.NotEqual(JsonValueKind.Null, doc.GetProperty("decidedAt").ValueKind);
        Assert.NotEqual(JsonValueKind.Null, doc.GetProperty("completedAt").ValueKind);
        var branches = doc.GetProperty("participants").EnumerateArray().ToList();
        Assert.Equal(2, branches.Count);
        Assert.All(branches, b =>
        {
            Assert.Equal("bank", b.GetProperty("participant").GetString());
            Assert.Equal("Yes", b.GetProperty("vote").GetString());
            Assert.Equal("Committed", b.GetProperty("outcome").GetString());
        });
        Assert.Equal((70, 0), await host.GetAccountAsync("alice"));
        Assert.Equal((35, 0), await host.GetAccountAsync("bob"));
    }

    [Fact]
    public async Task Transfer_WithoutWaiting_Answers202WithLinksAndEndsCommitted()
    {
        await using var host = await TestHost.StartAsync(azurite.Azurite.ConnectionString);
        await host.PutAccountAsync("alice", 100);
        await host.PutAccountAsync("bob", 0);

        var response = await host.StartAsync(TestHost.Transfer(null, "alice", "bob", 10));

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var started = await response.Content.ReadFromJsonAsync<JsonElement>();
        var id = started.GetProperty("id").GetString()!;
        Assert.Matches("^[0-9a-f]{32}$", id);
        var statusUri = started.GetProperty("statusQueryGetUri").GetString()!;
        Assert.EndsWith($"/api/transactions/{id}", statusUri, StringComparison.Ordinal);
        Assert.Equal($"{statusUri}/abort", started.GetProperty("abortPostUri").GetString());
        Assert.Equal(statusUri, response.Headers.Location!.ToString());
        await host.WaitForStatusAsync(id, Wait, "Committed");
        Assert.Equal((90, 0), await host.GetAccountAsync("alice"));
    }

    [Fact]
    public async Task Transfer_WhenFundsAreShort_AbortsWithTheParticipantsReasonAndLeavesNoHold()
    {
        await using var host = await TestHost.StartAsync(azurite.Azurite.ConnectionString);
        await host.PutAccountAsync("alice", 20);
        await host.PutAccountAsync("bob", 0);

        var response = await host.StartAsync(TestHost.Transfer("short-1", "alice", "bob", 30), waitSeconds: 20);

        var doc = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("Aborted", doc.GetProperty("status").GetString());
        Assert.Equal("Abort", doc.GetProperty("decision").GetString());
        Assert.Equal("participant 'bank' voted No: insufficient funds in 'alice'", doc.GetProperty("reason").GetString());
        var branches = doc.GetProperty("participants").EnumerateArray().ToList();
        Assert.Equal("No", branches[0].GetProperty("vote").GetString());
        Assert.Equal(JsonValueKind.Null, branches[0].GetProperty("outcome").ValueKind);
        Assert.Equal("RolledBack", branches[1].GetProperty("outcome").GetString());
        Assert.Equal((20, 0), await host.GetAccountAsync("alice"));
        Assert.Equal((0, 0), await host.GetAccountAsync("bob"));
    }

    [Fact]
    public async Task Transfer_ToAMissingAccount_AbortsAndReleasesTheDebitHold()
    {
        await using var host = await TestHost.StartAsync(azurite.Azurite.ConnectionString);
        await host.PutAccountAsync("alice", 50);

        var response = await host.StartAsync(TestHost.Transfer("missing-1", "alice", "nobody", 30), waitSeconds: 20);

        var doc = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("Aborted", doc.GetProperty("status").GetString());
        Assert.Contains("account 'nobody' does not exist", doc.GetProperty("reason").GetString(), StringComparison.Ordinal);
        Assert.Equal((50, 0), await host.GetAccountAsync("alice"));
    }

    [Fact]
    public async Task VoteDeadline_WhenAParticipantNeverAnswers_AbortsAndTheLateParticipantReservesNothing()
    {
        // The first host runs the coordinator but not the bank: the bank "never answers" while it is away.
        var prefix = TestNames.UniquePrefix();
        await using (var coordinatorOnly = await TestHost.StartAsync(azurite.Azurite.ConnectionString,
            new Dictionary<string, string?> { ["TRANSACTIONS_HOSTED_PARTICIPANTS"] = "inventory" }, prefix))
        {
            var response = await coordinatorOnly.StartAsync(TestHost.Transfer("deadline-1", "alice", "bob", 10, timeoutSeconds: 1));
            Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);

            var doc = await coordinatorOnly.WaitForStatusAsync("deadline-1", Wait, "Aborting", "Aborted");
            Assert.Equal("Abort", doc.GetProperty("decision").GetString());
            Assert.Equal("vote deadline passed without a vote from 'bank', 'bank'", doc.GetProperty("reason").GetString());
        }

        // The bank comes back: it finds the prepares and the rollbacks, and the transaction ends Aborted with nothing held.
        await using var full = await TestHost.StartAsync(azurite.Azurite.ConnectionString, prefix: prefix);
        await full.PutAccountAsync("alice", 100);
        await full.PutAccountAsync("bob", 0);
        var end = await full.WaitForStatusAsync("deadline-1", Wait, "Aborted");
        // Each branch either rolled back, or (its rollback arrived first) voted No and reserved nothing; never committed.
        Assert.All(end.GetProperty("participants").EnumerateArray(), b => Assert.True(
            b.GetProperty("outcome").GetString() == "RolledBack" || b.GetProperty("vote").GetString() == "No", b.ToString()));
        Assert.Equal((100, 0), await full.GetAccountAsync("alice"));
        Assert.Equal((0, 0), await full.GetAccountAsync("bob"));
    }

    [Fact]
    public async Task Abort_WhilePreparing_DecidesAbortAndIsIdempotent()
    {
        await using var host = await TestHost.StartAsync(azurite.Azurite.ConnectionString);
        await host.PutAccountAsync("alice", 100);
        var body = new
        {
            transactionId = "abort-me",
            timeoutSeconds = 600,
            participants = new object[]
            {
                new { participant = "bank", operation = new { type = "debit", account = "alice", amount = 40 } },
                new { participant = "ghost", operation = new { anything = true } },
            },
        };
        Assert.Equal(HttpStatusCode.Accepted, (await host.StartAsync(body)).StatusCode);
        await Eventually.WaitAsync(async () => (await host.GetAccountAsync("alice")).Held == 40, Wait, "alice's debit held");

        var first = await host.Client.PostAsync("/api/transactions/abort-me/abort", null);
        var second = await host.Client.PostAsync("/api/transactions/abort-me/abort", null);

        Assert.Equal(HttpStatusCode.Accepted, first.StatusCode);
        Assert.Equal(HttpStatusCode.Accepted, second.StatusCode);
        var doc = await host.GetStatusAsync("abort-me");
        Assert.Equal("Abort", doc.GetProperty("decision").GetString());
        Assert.Equal("abort requested", doc.GetProperty("reason").GetString());
        await Eventually.WaitAsync(async () => (await host.GetAccountAsync("alice")) == (100, 0), Wait, "alice's hold released");
        Assert.Equal("RolledBack", (await host.GetStatusAsync("abort-me")).GetProperty("participants")[0].GetProperty("outcome").GetString());
    }

    [Fact]
    public async Task Abort_AfterCommit_Is409_AndUnknownIs404()
    {
        await using var host = await TestHost.StartAsync(azurite.Azurite.ConnectionString);
        await host.PutAccountAsync("alice", 100);
        await host.PutAccountAsync("bob", 0);
        await host.StartAsync(TestHost.Transfer("done-1", "alice", "bob", 1), waitSeconds: 20);

        var committed = await host.Client.PostAsync("/api/transactions/done-1/abort", null);
        var unknown = await host.Client.PostAsync("/api/transactions/never-was/abort", null);

        Assert.Equal(HttpStatusCode.Conflict, committed.StatusCode);
        Assert.Equal("application/problem+json", committed.Content.Headers.ContentType!.MediaType);
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        Assert.Equal("Committed", (await host.GetStatusAsync("done-1")).GetProperty("status").GetString());
    }

    [Fact]
    public async Task Start_RepeatedWithTheSameBody_IsTheSameTransaction_AndADifferentBodyIs409()
    {
        await using var host = await TestHost.StartAsync(azurite.Azurite.ConnectionString);
        await host.PutAccountAsync("alice", 100);
        await host.PutAccountAsync("bob", 0);

        var first = await host.StartAsync(TestHost.Transfer("same-1", "alice", "bob", 25), waitSeconds: 20);
        var again = await host.StartAsync(TestHost.Transfer("same-1", "alice", "bob", 25));
        var againWaiting = await host.StartAsync(TestHost.Transfer("same-1", "alice", "bob", 25), waitSeconds: 5);
        var different = await host.StartAsync(TestHost.Transfer("same-1", "alice", "bob", 26));

        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.Equal(HttpStatusCode.Accepted, again.StatusCode);
        Assert.Equal("same-1", (await again.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString());
        Assert.Equal(HttpStatusCode.OK, againWaiting.StatusCode);
        Assert.Equal("Committed", (await againWaiting.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("status").GetString());
        Assert.Equal(HttpStatusCode.Conflict, different.StatusCode);
        Assert.Equal((75, 0), await host.GetAccountAsync("alice"));
        Assert.Equal((25, 0), await host.GetAccountAsync("bob"));
    }

    [Fact]
    public async Task Order_AcrossInventoryAndBank_CommitsAsOne_OrAbortsAsOne()
    {
        await using var host = await TestHost.StartAsync(azurite.Azurite.ConnectionString);
        await host.Client.PutAsJsonAsync("/api/inventory/items/widget", new { stock = 10 });
        await host.PutAccountAsync("carol", 100);
        await host.PutAccountAsync("shop", 0);
        object Order(string id, int quantity, int price) => new
        {
            transactionId = id,
            participants = new object[]
            {
                new { participant = "inventory", operation = new { type = "reserve", sku = "widget", quantity } },
                new { participant = "bank", operation = new { type = "debit", account = "carol", amount = price } },
                new { participant = "bank", operation = new { type = "credit", account = "shop", amount = price } },
            },
        };

        var ok = await (await host.StartAsync(Order("order-ok", 3, 60), waitSeconds: 20)).Content.ReadFromJsonAsync<JsonElement>();
        var noStock = await (await host.StartAsync(Order("order-no-stock", 8, 10), waitSeconds: 20)).Content.ReadFromJsonAsync<JsonElement>();
        var noMoney = await (await host.StartAsync(Order("order-no-money", 1, 50), waitSeconds: 20)).Content.ReadFromJsonAsync<JsonElement>();

        Assert.Equal("Committed", ok.GetProperty("status").GetString());
        Assert.Equal("Aborted", noStock.GetProperty("status").GetString());
        Assert.Contains("insufficient stock of 'widget'", noStock.GetProperty("reason").GetString(), StringComparison.Ordinal);
        Assert.Equal("Aborted", noMoney.GetProperty("status").GetString());
        var item = await host.Client.GetFromJsonAsync<JsonElement>("/api/inventory/items/widget");
        Assert.Equal(7, item.GetProperty("stock").GetInt64());
        Assert.Equal(0, item.GetProperty("reserved").GetInt64());
        Assert.Equal((40, 0), await host.GetAccountAsync("carol"));
        Assert.Equal((60, 0), await host.GetAccountAsync("shop"));
    }

    [Fact]
    public async Task ReadOnlyBranch_VotesReadOnly_GetsNoPhase2Command_AndTheRestCommits()
    {
        await using var host = await TestHost.StartAsync(azurite.Azurite.ConnectionString);
        await host.Client.PutAsJsonAsync("/api/inventory/items/gizmo", new { stock = 5 });
        await host.PutAccountAsync("alice", 100);
        await host.PutAccountAsync("bob", 0);
        var inventoryQueue = host.Transport.Queue(host.Names.ParticipantQueue("inventory"));

        var response = await host.StartAsync(new
        {
            transactionId = "read-only-1",
            participants = new object[]
            {
                new { participant = "inventory", operation = new { type = "check", sku = "gizmo", quantity = 5 } },
                new { participant = "bank", operation = new { type = "debit", account = "alice", amount = 10 } },
                new { participant = "bank", operation = new { type = "credit", account = "bob", amount = 10 } },
            },
        }, waitSeconds: 20);
        var checkOnly = await host.StartAsync(new
        {
            transactionId = "read-only-2",
            participants = new object[] { new { participant = "inventory", operation = new { type = "check", sku = "gizmo", quantity = 1 } } },
        }, waitSeconds: 20);

        var doc = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("Committed", doc.GetProperty("status").GetString());
        var check = doc.GetProperty("participants")[0];
        Assert.Equal("ReadOnly", check.GetProperty("vote").GetString());
        Assert.Equal(JsonValueKind.Null, check.GetProperty("outcome").ValueKind);
        var onlyCheck = await checkOnly.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("Committed", onlyCheck.GetProperty("status").GetString());
        Assert.Equal(onlyCheck.GetProperty("decidedAt").GetString(), onlyCheck.GetProperty("completedAt").GetString());
        Assert.Equal(0, (await inventoryQueue.GetPropertiesAsync()).Value.ApproximateMessagesCount);
        var item = await host.Client.GetFromJsonAsync<JsonElement>("/api/inventory/items/gizmo");
        Assert.Equal(5, item.GetProperty("stock").GetInt64());
        Assert.Equal(0, item.GetProperty("reserved").GetInt64());
        Assert.Equal((90, 0), await host.GetAccountAsync("alice"));
    }
}
