using System.Net;
using Azure.Data.Tables;
using Microsoft.Extensions.DependencyInjection;
using Serverless.Core.Participants;
using Serverless.Core.Protocol;
using Serverless.Runtime.Participants;
using Serverless.Runtime.Samples;
using Serverless.Testing;

namespace Serverless.Resilience.Tests;

/// <summary>
/// In-doubt resolution: a participant holding a prepared branch whose decision does not come within
/// TRANSACTIONS_IN_DOUBT_SECONDS asks the coordinator, and finishes the branch through the normal path. The tests
/// play the coordinator's side by hand (record, decide, send nothing), so the inquiry is the only way out.
/// </summary>
[Collection(AzuriteCollection.Name)]
public sealed class InDoubtResolutionTests(AzuriteFixture azurite)
{
    private const string Debit30 = """{"type":"debit","account":"alice","amount":30}""";
    private const string Reserve2 = """{"type":"reserve","sku":"widget","quantity":2}""";
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task ACommittedTransaction_WhoseCommitCommandsWereLost_IsCommittedWhenItsParticipantsAsk()
    {
        await using var app = await StartAsync(("TRANSACTIONS_SIGNING_KEY", "in-doubt-key"));
        await app.PutAccountAsync("alice", 100);
        await app.PutItemAsync("widget", 10);
        var id = TestApp.Id("lost-commit");
        await RecordAsync(app, id, TimeSpan.FromMinutes(10), ("bank", Debit30), ("inventory", Reserve2));
        Assert.Equal(Vote.Yes, (await Bank(app).PrepareAsync(new BranchKey(id, 0), Debit30)).Vote);
        Assert.Equal(Vote.Yes, (await Inventory(app).PrepareAsync(new BranchKey(id, 1), Reserve2)).Vote);

        // The commit point is written; the commit commands and their retry timer never leave (a crash, a lost timer).
        await DecideWithoutSendingAsync(app, id, new VoteCast(0, Vote.Yes), new VoteCast(1, Vote.Yes));
        Assert.Equal("Committing", (await app.WaitForStatusAsync(id, Wait, "Committing", "Committed")).GetProperty("status").GetString());

        await app.WaitForStatusAsync(id, Wait, "Committed");
        Assert.Equal((70, 0), await app.GetAccountAsync("alice"));
        Assert.Equal((8, 0), await app.GetItemAsync("widget"));
        Assert.True(app.Logs.Count(4003, id) >= 2, "both participants asked about their branch");
    }

    [Fact]
    public async Task AnAbortedTransaction_WhoseRollbackWasLost_IsRolledBackWhenTheParticipantAsks()
    {
        await using var app = await StartAsync();
        await app.PutAccountAsync("alice", 100);
        var id = TestApp.Id("lost-rollback");
        await RecordAsync(app, id, TimeSpan.FromMinutes(10), ("bank", Debit30), ("inventory", Reserve2));
        await Bank(app).PrepareAsync(new BranchKey(id, 0), Debit30);
        Assert.Equal(Vote.No, (await Inventory(app).PrepareAsync(new BranchKey(id, 1), Reserve2)).Vote); // no such item

        await DecideWithoutSendingAsync(app, id, new VoteCast(0, Vote.Yes), new VoteCast(1, Vote.No, "no such item"));

        var done = await app.WaitForStatusAsync(id, Wait, "Aborted");
        Assert.Equal("RolledBack", done.GetProperty("participants")[0].GetProperty("outcome").GetString());
        Assert.Equal((100, 0), await app.GetAccountAsync("alice"));
    }

    [Fact]
    public async Task APreparedBranch_OfATransactionTheCoordinatorNeverRecorded_IsRolledBack()
    {
        await using var app = await StartAsync();
        await app.PutAccountAsync("alice", 100);
        var id = TestApp.Id("never-recorded");
        var branch = new BranchKey(id, 3);
        await Bank(app).PrepareAsync(branch, Debit30);
        Assert.Equal((100, 30), await app.GetAccountAsync("alice"));

        await Eventually.WaitAsync(async () => await app.GetAccountAsync("alice") == (100, 0), Wait, "the hold released by a presumed-abort rollback");

        var record = await Bank(app).Table.GetEntityAsync<TableEntity>("alice", TableResourceManager<BankOperation>.RecordKey(branch));
        Assert.Equal(nameof(BranchPhase.RolledBack), record.Value.GetString("Phase"));
        Assert.True(app.Logs.Count(1006, id) >= 1, "the coordinator presumed abort");
        Assert.Equal(HttpStatusCode.NotFound, (await app.Client.GetAsync($"/api/transactions/{id}")).StatusCode);
    }

    [Fact]
    public async Task ATransactionWhoseDeadlineTimerWasLost_IsAbortedWhenAPreparedParticipantAsks()
    {
        await using var app = await StartAsync();
        await app.PutAccountAsync("alice", 100);
        var id = TestApp.Id("lost-deadline");

        // Recorded without its deadline timer; the inventory branch never votes.
        await RecordAsync(app, id, TimeSpan.FromSeconds(1), ("bank", Debit30), ("inventory", Reserve2));
        await Bank(app).PrepareAsync(new BranchKey(id, 0), Debit30);
        await DecideWithoutSendingAsync(app, id, new VoteCast(0, Vote.Yes));

        var done = await app.WaitForStatusAsync(id, Wait, "Aborted");
        Assert.Contains("vote deadline passed without a vote from 'inventory'", done.GetProperty("reason").GetString(), StringComparison.Ordinal);
        Assert.Equal((100, 0), await app.GetAccountAsync("alice"));
    }

    [Fact]
    public async Task APreparedBranch_WhileItsTransactionIsStillPreparing_KeepsWaitingForTheDecision()
    {
        await using var app = await StartAsync();
        await app.PutAccountAsync("alice", 100);
        var id = TestApp.Id("still-preparing");
        await RecordAsync(app, id, TimeSpan.FromMinutes(10), ("bank", Debit30), ("inventory", Reserve2));
        await Bank(app).PrepareAsync(new BranchKey(id, 0), Debit30);
        await DecideWithoutSendingAsync(app, id, new VoteCast(0, Vote.Yes));

        // Two inquiries asked and answered (the coordinator's inbox holds nothing else): the branch is still held.
        await Eventually.WaitAsync(
            async () => app.Logs.Count(4003, id) >= 2 && await app.CountAsync(app.Names.CoordinatorQueue) == 0,
            Wait,
            "two inquiries asked and handled");
        Assert.Equal((100, 30), await app.GetAccountAsync("alice"));
        Assert.Equal("Preparing", (await app.WaitForStatusAsync(id, Wait, "Preparing")).GetProperty("status").GetString());

        Assert.Equal(HttpStatusCode.Accepted, (await app.Client.PostAsync($"/api/transactions/{id}/abort", null)).StatusCode);
        await app.WaitForStatusAsync(id, Wait, "Aborted");
        Assert.Equal((100, 0), await app.GetAccountAsync("alice"));
    }

    [Fact]
    public async Task ListPrepared_ReturnsOnlyBranchesStillPrepared_PreparedBeforeTheBound_WithTheirOperation()
    {
        await using var app = await StartAsync(("TRANSACTIONS_IN_DOUBT_SECONDS", "3600"));
        await app.PutAccountAsync("alice", 100);
        var bank = Bank(app);
        const string tooMuch = """{"type":"debit","account":"alice","amount":1000}""";
        await bank.PrepareAsync(new BranchKey("held", 0), Debit30);
        await bank.PrepareAsync(new BranchKey("refused", 0), tooMuch);
        await bank.PrepareAsync(new BranchKey("committed", 1), Debit30);
        await bank.CommitAsync(new BranchKey("committed", 1), Debit30);
        await bank.RollbackAsync(new BranchKey("rolled-back-first", 2), Debit30);

        var now = DateTimeOffset.UtcNow;
        var listed = await bank.ListPreparedAsync(now.AddMinutes(1), 100);
        var none = await bank.ListPreparedAsync(now.AddMinutes(-1), 100);

        var only = Assert.Single(listed);
        Assert.Equal(new BranchKey("held", 0), only.Branch);
        Assert.Equal(Debit30, only.Operation);
        Assert.InRange(only.PreparedAt, now.AddMinutes(-1), now);
        Assert.Empty(none);
    }

    private Task<TestApp> StartAsync(params (string Key, string Value)[] settings)
    {
        var all = new Dictionary<string, string?> { ["TRANSACTIONS_IN_DOUBT_SECONDS"] = "1" };
        foreach (var (key, value) in settings)
        {
            all[key] = value;
        }

        return TestApp.StartAsync(azurite.ConnectionString, all);
    }

    private static BankResourceManager Bank(TestApp app) => app.Services.GetRequiredService<BankResourceManager>();

    private static InventoryResourceManager Inventory(TestApp app) => app.Services.GetRequiredService<InventoryResourceManager>();

    /// <summary>Writes the coordinator's record of a new transaction, as StartAsync does, but sends nothing: no prepare, no deadline timer.</summary>
    private static async Task RecordAsync(TestApp app, string id, TimeSpan timeout, params (string Participant, string Operation)[] branches)
    {
        var state = TransactionState.Create(id, branches, DateTimeOffset.UtcNow, timeout);
        Assert.NotNull(await app.Coordinator.Store.CreateAsync(state, "hash"));
    }

    /// <summary>Applies events to the coordinator's record and saves it, as the coordinator does, then sends none of the commands.</summary>
    private static async Task DecideWithoutSendingAsync(TestApp app, string id, params CoordinatorEvent[] events)
    {
        foreach (var evt in events)
        {
            var stored = (await app.Coordinator.Store.LoadAsync(id))!;
            var step = Coordinator.Apply(stored.State, evt, DateTimeOffset.UtcNow, new CoordinatorOptions());
            Assert.Equal(StepKind.Applied, step.Kind);
            Assert.NotNull(await app.Coordinator.Store.SaveAsync(stored.State, step.State, stored.ETag, stored.RequestHash));
        }
    }
}
