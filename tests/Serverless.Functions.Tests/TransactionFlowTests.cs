using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Serverless.Testing;

namespace Serverless.Functions.Tests;

/// <summary>
/// Whole transactions through the HTTP API: commit, the three ways to abort (a No vote, the vote deadline, a request),
/// idempotent starts, <c>waitSeconds</c>, and a three-branch order across inventory and bank.
/// </summary>
/// <remarks>"ghost" is a configured participant that nobody runs: a transaction naming it can only end by the deadline or a request.</remarks>
public sealed class TransactionFlowTests(HostFixture fixture) : IClassFixture<HostFixture>
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    private TestHost Host => fixture.Host;

    [Fact]
    public async Task Transfer_WhenFundsSuffice_CommitsAndMovesTheMoney()
    {
        var (id, alice, bob) = (TestHost.Id("commit"), TestHost.Id("alice"), TestHost.Id("bob"));
        await Host.PutAccountAsync(alice, 100);
        await Host.PutAccountAsync(bob, 5);

        var response = await Host.StartAsync(TestHost.Transfer(id, alice, bob, 30), waitSeconds: 30);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var doc = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(id, doc.GetProperty("id").GetString());
        Assert.Equal("Committed", doc.GetProperty("status").GetString());
        Assert.Equal("Commit", doc.GetProperty("decision").GetString());
        Assert.Equal(JsonValueKind.Null, doc.GetProperty("reason").ValueKind);
        var created = doc.GetProperty("createdAt").GetDateTimeOffset();
        var decided = doc.GetProperty("decidedAt").GetDateTimeOffset();
        var completed = doc.GetProperty("completedAt").GetDateTimeOffset();
        Assert.True(created <= decided && decided <= completed, doc.ToString());
        var branches = doc.GetProperty("participants").EnumerateArray().ToList();
        Assert.Equal(2, branches.Count);
        Assert.All(branches, b =>
        {
            Assert.Equal("bank", b.GetProperty("participant").GetString());
            Assert.Equal("Yes", b.GetProperty("vote").GetString());
            Assert.Equal("Committed", b.GetProperty("outcome").GetString());
        });
        Assert.Equal((70, 0), await Host.GetAccountAsync(alice));
        Assert.Equal((35, 0), await Host.GetAccountAsync(bob));
        Assert.Equal(doc.ToString(), (await Host.GetStatusAsync(id)).ToString());

        // The document's fields, in order: DESIGN.md's, then the additions (a branch's kind and heuristic, the deadline).
        Assert.Equal(["id", "status", "decision", "reason", "createdAt", "decidedAt", "completedAt", "participants", "deadline"], doc.EnumerateObject().Select(p => p.Name));
        Assert.All(branches, b => Assert.Equal(["participant", "vote", "reason", "outcome", "kind", "heuristic"], b.EnumerateObject().Select(p => p.Name)));
    }

    [Fact]
    public async Task Transfer_WithoutWaiting_Answers202WithLinks_AndEndsCommitted()
    {
        var (alice, bob) = (TestHost.Id("alice"), TestHost.Id("bob"));
        await Host.PutAccountAsync(alice, 100);
        await Host.PutAccountAsync(bob, 0);

        var response = await Host.StartAsync(TestHost.Transfer(null, alice, bob, 10));

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var started = await response.Content.ReadFromJsonAsync<JsonElement>();
        var id = started.GetProperty("id").GetString()!;
        Assert.Matches("^[0-9a-f]{32}$", id);
        var statusUri = started.GetProperty("statusQueryGetUri").GetString()!;
        Assert.EndsWith($"/api/transactions/{id}", statusUri, StringComparison.Ordinal);
        Assert.Equal($"{statusUri}/abort", started.GetProperty("abortPostUri").GetString());
        Assert.Equal(statusUri, response.Headers.Location?.ToString());
        await Host.WaitForStatusAsync(id, Wait, "Committed");
        Assert.Equal((90, 0), await Host.GetAccountAsync(alice));
        Assert.Equal((10, 0), await Host.GetAccountAsync(bob));
    }

    [Fact]
    public async Task Transfer_WhenFundsAreShort_AbortsWithTheParticipantsReason_AndLeavesNoHold()
    {
        var (id, alice, bob) = (TestHost.Id("short"), TestHost.Id("alice"), TestHost.Id("bob"));
        await Host.PutAccountAsync(alice, 20);
        await Host.PutAccountAsync(bob, 0);

        var doc = await (await Host.StartAsync(TestHost.Transfer(id, alice, bob, 30), waitSeconds: 30)).Content.ReadFromJsonAsync<JsonElement>();

        Assert.Equal("Aborted", doc.GetProperty("status").GetString());
        Assert.Equal("Abort", doc.GetProperty("decision").GetString());
        Assert.Equal($"participant 'bank' voted No: insufficient funds in '{alice}'", doc.GetProperty("reason").GetString());
        var branches = doc.GetProperty("participants").EnumerateArray().ToList();
        Assert.Equal("No", branches[0].GetProperty("vote").GetString());
        Assert.Equal($"insufficient funds in '{alice}'", branches[0].GetProperty("reason").GetString());
        Assert.Equal(JsonValueKind.Null, branches[0].GetProperty("outcome").ValueKind);
        Assert.Equal("RolledBack", branches[1].GetProperty("outcome").GetString());
        Assert.Equal((20, 0), await Host.GetAccountAsync(alice));
        Assert.Equal((0, 0), await Host.GetAccountAsync(bob));
    }

    [Fact]
    public async Task Transfer_ToAMissingAccount_AbortsAndReleasesTheDebitsHold()
    {
        var (id, alice) = (TestHost.Id("missing"), TestHost.Id("alice"));
        var nobody = TestHost.Id("nobody");
        await Host.PutAccountAsync(alice, 50);

        var doc = await (await Host.StartAsync(TestHost.Transfer(id, alice, nobody, 30), waitSeconds: 30)).Content.ReadFromJsonAsync<JsonElement>();

        Assert.Equal("Aborted", doc.GetProperty("status").GetString());
        Assert.Equal($"participant 'bank' voted No: account '{nobody}' does not exist", doc.GetProperty("reason").GetString());
        Assert.Equal("RolledBack", doc.GetProperty("participants")[0].GetProperty("outcome").GetString());
        Assert.Equal((50, 0), await Host.GetAccountAsync(alice));
    }

    [Fact]
    public async Task VoteDeadline_WhenAParticipantNeverVotes_DecidesAbort_AndReleasesTheOtherBranchsHold()
    {
        var (id, alice) = (TestHost.Id("deadline"), TestHost.Id("alice"));
        await Host.PutAccountAsync(alice, 100);

        var response = await Host.StartAsync(DebitAndGhost(id, alice, 40, timeoutSeconds: 2));

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var doc = await Host.WaitForStatusAsync(id, Wait, "Aborting", "Aborted");
        Assert.Equal("Abort", doc.GetProperty("decision").GetString());
        // On a slow machine the bank may not have voted by then either.
        Assert.Contains(
            doc.GetProperty("reason").GetString(),
            new[] { "vote deadline passed without a vote from 'ghost'", "vote deadline passed without a vote from 'bank', 'ghost'" });
        Assert.True(doc.GetProperty("decidedAt").GetDateTimeOffset() >= doc.GetProperty("createdAt").GetDateTimeOffset().AddSeconds(2), doc.ToString());
        await Eventually.WaitAsync(
            async () => (await Host.GetStatusAsync(id)).GetProperty("participants")[0].GetProperty("outcome").GetString() == "RolledBack",
            Wait,
            "the bank branch rolled back");
        Assert.Equal(JsonValueKind.Null, (await Host.GetStatusAsync(id)).GetProperty("participants")[1].GetProperty("vote").ValueKind);
        Assert.Equal((100, 0), await Host.GetAccountAsync(alice));
    }

    [Fact]
    public async Task Abort_WhilePreparing_Is202_DecidesAbort_ReleasesTheHold_AndIsIdempotent()
    {
        var (id, alice) = (TestHost.Id("abort"), TestHost.Id("alice"));
        await Host.PutAccountAsync(alice, 100);
        Assert.Equal(HttpStatusCode.Accepted, (await Host.StartAsync(DebitAndGhost(id, alice, 40, timeoutSeconds: 600))).StatusCode);
        await Eventually.WaitAsync(async () => (await Host.GetAccountAsync(alice)).Held == 40, Wait, "the debit held");

        var first = await Host.Client.PostAsync($"/api/transactions/{id}/abort", null);
        var second = await Host.Client.PostAsync($"/api/transactions/{id}/abort", null);

        Assert.Equal(HttpStatusCode.Accepted, first.StatusCode);
        Assert.Equal(HttpStatusCode.Accepted, second.StatusCode);
        var answer = await first.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("Abort", answer.GetProperty("decision").GetString());
        Assert.EndsWith($"/api/transactions/{id}", first.Headers.Location?.ToString(), StringComparison.Ordinal);
        var doc = await Host.WaitForStatusAsync(id, Wait, "Aborting", "Aborted");
        Assert.Equal("Abort", doc.GetProperty("decision").GetString());
        Assert.Equal("abort requested", doc.GetProperty("reason").GetString());
        await Eventually.WaitAsync(async () => await Host.GetAccountAsync(alice) == (100, 0), Wait, "the hold released");
        await Eventually.WaitAsync(
            async () => (await Host.GetStatusAsync(id)).GetProperty("participants")[0].GetProperty("outcome").GetString() == "RolledBack",
            Wait,
            "the bank branch's rollback acknowledged");
    }

    [Fact]
    public async Task Abort_AfterCommit_Is409_AndOfAnUnknownTransactionIs404()
    {
        var (id, alice, bob) = (TestHost.Id("done"), TestHost.Id("alice"), TestHost.Id("bob"));
        await Host.PutAccountAsync(alice, 100);
        await Host.PutAccountAsync(bob, 0);
        Assert.Equal(HttpStatusCode.OK, (await Host.StartAsync(TestHost.Transfer(id, alice, bob, 1), waitSeconds: 30)).StatusCode);

        var committed = await Host.Client.PostAsync($"/api/transactions/{id}/abort", null);
        var unknown = await Host.Client.PostAsync($"/api/transactions/{TestHost.Id("never")}/abort", null);

        Assert.Equal(HttpStatusCode.Conflict, committed.StatusCode);
        Assert.Equal("application/problem+json", committed.Content.Headers.ContentType?.MediaType);
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        Assert.Equal("application/problem+json", unknown.Content.Headers.ContentType?.MediaType);
        Assert.Equal("Committed", (await Host.GetStatusAsync(id)).GetProperty("status").GetString());
        Assert.Equal((99, 0), await Host.GetAccountAsync(alice));
    }

    [Fact]
    public async Task Start_RepeatedWithTheSameBody_IsTheSameTransaction_AndADifferentBodyIs409()
    {
        var (id, alice, bob) = (TestHost.Id("same"), TestHost.Id("alice"), TestHost.Id("bob"));
        await Host.PutAccountAsync(alice, 100);
        await Host.PutAccountAsync(bob, 0);

        var first = await Host.StartAsync(TestHost.Transfer(id, alice, bob, 25), waitSeconds: 30);
        var again = await Host.StartAsync(TestHost.Transfer(id, alice, bob, 25));
        var againWaiting = await Host.StartAsync(TestHost.Transfer(id, alice, bob, 25), waitSeconds: 5);
        var otherAmount = await Host.StartAsync(TestHost.Transfer(id, alice, bob, 26));
        var otherTimeout = await Host.StartAsync(TestHost.Transfer(id, alice, bob, 25, timeoutSeconds: 31));

        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.Equal(HttpStatusCode.Accepted, again.StatusCode);
        Assert.Equal(id, (await again.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString());
        Assert.Equal(HttpStatusCode.OK, againWaiting.StatusCode);
        Assert.Equal("Committed", (await againWaiting.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("status").GetString());
        Assert.Equal(HttpStatusCode.Conflict, otherAmount.StatusCode);
        Assert.Equal("application/problem+json", otherAmount.Content.Headers.ContentType?.MediaType);
        Assert.Equal(HttpStatusCode.Conflict, otherTimeout.StatusCode);
        Assert.Equal((75, 0), await Host.GetAccountAsync(alice));
        Assert.Equal((25, 0), await Host.GetAccountAsync(bob));
    }

    [Fact]
    public async Task Start_RepeatedWhilePreparing_IsTheSameTransaction()
    {
        var (id, alice) = (TestHost.Id("again"), TestHost.Id("alice"));
        await Host.PutAccountAsync(alice, 100);
        var body = DebitAndGhost(id, alice, 10, timeoutSeconds: 600);

        var responses = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => Host.StartAsync(body)));

        Assert.All(responses, r => Assert.Equal(HttpStatusCode.Accepted, r.StatusCode));
        await Eventually.WaitAsync(async () => (await Host.GetAccountAsync(alice)).Held == 10, Wait, "the debit held");
        Assert.Equal("Preparing", (await Host.GetStatusAsync(id)).GetProperty("status").GetString());
        Assert.Equal(HttpStatusCode.Accepted, (await Host.Client.PostAsync($"/api/transactions/{id}/abort", null)).StatusCode);
        await Eventually.WaitAsync(async () => await Host.GetAccountAsync(alice) == (100, 0), Wait, "the single hold released");
    }

    [Fact]
    public async Task Start_WithWaitSeconds_WhenTheTransactionOutlastsIt_Answers202()
    {
        var (id, alice) = (TestHost.Id("slow"), TestHost.Id("alice"));
        await Host.PutAccountAsync(alice, 100);
        var clock = System.Diagnostics.Stopwatch.StartNew();

        var response = await Host.StartAsync(DebitAndGhost(id, alice, 10, timeoutSeconds: 600), waitSeconds: 1);

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        Assert.True(clock.Elapsed >= TimeSpan.FromSeconds(0.9), $"answered after {clock.Elapsed}, before waitSeconds");
        Assert.Equal(id, (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString());
        Assert.Equal("Preparing", (await Host.GetStatusAsync(id)).GetProperty("status").GetString());
        Assert.Equal(HttpStatusCode.Accepted, (await Host.Client.PostAsync($"/api/transactions/{id}/abort", null)).StatusCode);
    }

    [Fact]
    public async Task Order_AcrossInventoryAndBank_CommitsAsOne_OrAbortsAsOne()
    {
        var (sku, carol, shop) = (TestHost.Id("widget"), TestHost.Id("carol"), TestHost.Id("shop"));
        await Host.Client.PutAsJsonAsync($"/api/inventory/items/{sku}", new { stock = 10 });
        await Host.PutAccountAsync(carol, 100);
        await Host.PutAccountAsync(shop, 0);
        object Order(string id, int quantity, int price) => new
        {
            transactionId = id,
            participants = new object[]
            {
                new { participant = "inventory", operation = new { type = "reserve", sku, quantity } },
                new { participant = "bank", operation = new { type = "debit", account = carol, amount = price } },
                new { participant = "bank", operation = new { type = "credit", account = shop, amount = price } },
            },
        };

        var ok = await (await Host.StartAsync(Order(TestHost.Id("ok"), 3, 60), waitSeconds: 30)).Content.ReadFromJsonAsync<JsonElement>();
        var noStock = await (await Host.StartAsync(Order(TestHost.Id("nostock"), 8, 10), waitSeconds: 30)).Content.ReadFromJsonAsync<JsonElement>();
        var noMoney = await (await Host.StartAsync(Order(TestHost.Id("nomoney"), 1, 50), waitSeconds: 30)).Content.ReadFromJsonAsync<JsonElement>();

        Assert.Equal("Committed", ok.GetProperty("status").GetString());
        Assert.Equal("Aborted", noStock.GetProperty("status").GetString());
        Assert.Equal($"participant 'inventory' voted No: insufficient stock of '{sku}'", noStock.GetProperty("reason").GetString());
        Assert.Equal("Aborted", noMoney.GetProperty("status").GetString());
        Assert.Equal($"participant 'bank' voted No: insufficient funds in '{carol}'", noMoney.GetProperty("reason").GetString());
        var item = await Host.Client.GetFromJsonAsync<JsonElement>($"/api/inventory/items/{sku}");
        Assert.Equal(7, item.GetProperty("stock").GetInt64());
        Assert.Equal(0, item.GetProperty("reserved").GetInt64());
        Assert.Equal((40, 0), await Host.GetAccountAsync(carol));
        Assert.Equal((60, 0), await Host.GetAccountAsync(shop));
    }

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
}
