using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Serverless.Core.Messaging;
using Serverless.Core.Protocol;
using Serverless.Testing;

namespace Serverless.Functions.Tests;

/// <summary>
/// Commands counted and delivered by hand: the host's bank and inventory queue functions are disabled, so every command the
/// coordinator sends waits in <c>tx-participant-{name}</c> until the test takes it and hands it to the app's inbox handler in
/// the order the test chooses. This shows what the coordinator sends (one-phase: the prepare only; read-only: no phase 2)
/// and how a late prepare behaves (I6).
/// </summary>
public sealed class HandDeliveredCommandTests(HandDeliveredCommandTests.Fixture fixture) : IClassFixture<HandDeliveredCommandTests.Fixture>
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    private TestHost Host => fixture.Host;

    private PausedInbox Bank => new(Host, "bank");

    private PausedInbox Inventory => new(Host, "inventory");

    [Theory]
    [InlineData(100, "Commit", "Committed", "Yes", "Committed", 70)]
    [InlineData(10, "Abort", "Aborted", "No", null, 10)]
    public async Task OnePhase_ASingleParticipantEndsTheTransaction_WithThePrepareAsItsOnlyCommand(
        long balance, string decision, string status, string vote, string? outcome, long after)
    {
        var (id, alice) = (TestHost.Id("onephase"), TestHost.Id("alice"));
        await Host.PutAccountAsync(alice, balance);

        Assert.Equal(HttpStatusCode.Accepted, (await Host.StartAsync(Debit(id, alice, 30))).StatusCode);
        var prepare = Assert.Single(await Bank.TakeAsync(id, 1, Wait));
        Assert.Equal(MessageKind.Prepare, prepare.Kind);
        Assert.True(prepare.Message.OnePhase);
        await Bank.DeliverAsync(prepare);

        var doc = await Host.WaitForStatusAsync(id, Wait, "Committed", "Aborted");
        Assert.Equal(status, doc.GetProperty("status").GetString());
        Assert.Equal(decision, doc.GetProperty("decision").GetString());
        Assert.Equal(vote, doc.GetProperty("participants")[0].GetProperty("vote").GetString());
        Assert.Equal(outcome, doc.GetProperty("participants")[0].GetProperty("outcome").GetString());
        Assert.Equal((after, 0), await Host.GetAccountAsync(alice));
        Assert.Equal(Enum.Parse<Decision>(decision), (await Host.Decisions.GetAsync(id))?.Decision);

        // The orchestration has ended, so nothing more can be sent: the prepare was the only command.
        Assert.Empty(await Bank.TakeVisibleAsync(id));
    }

    [Fact]
    public async Task OnePhase_WhenAbortIsRecordedBeforeTheYesVote_TheBranchRollsItselfBack()
    {
        var (id, alice) = (TestHost.Id("abortfirst"), TestHost.Id("alice"));
        await Host.PutAccountAsync(alice, 100);
        Assert.Equal(HttpStatusCode.Accepted, (await Host.StartAsync(Debit(id, alice, 30))).StatusCode);
        var prepare = Assert.Single(await Bank.TakeAsync(id, 1, Wait));

        Assert.Equal(HttpStatusCode.Accepted, (await Host.Client.PostAsync($"/api/transactions/{id}/abort", null)).StatusCode);
        var rollback = Assert.Single(await Bank.TakeAsync(id, 1, Wait, c => c.Kind == MessageKind.Rollback));

        // The prepare arrives first and reserves; its Yes meets the recorded Abort, so the branch rolls back at once.
        await Bank.DeliverAsync(prepare);
        var doc = await Host.WaitForStatusAsync(id, Wait, "Aborted");
        Assert.Equal("Abort", doc.GetProperty("decision").GetString());
        Assert.Equal("abort requested", doc.GetProperty("reason").GetString());
        Assert.Equal("Yes", doc.GetProperty("participants")[0].GetProperty("vote").GetString());
        Assert.Equal("RolledBack", doc.GetProperty("participants")[0].GetProperty("outcome").GetString());
        Assert.Equal((100, 0), await Host.GetAccountAsync(alice));

        // The rollback the decision sent arrives later and changes nothing.
        await Bank.DeliverAsync(rollback);
        Assert.Equal((100, 0), await Host.GetAccountAsync(alice));
        Assert.Equal("Aborted", (await Host.GetStatusAsync(id)).GetProperty("status").GetString());
        await Bank.TakeVisibleAsync(id);
    }

    [Fact]
    public async Task ReadOnly_ACheckVotesReadOnly_AndGetsNoPhase2Command_WhileTheOthersCommit()
    {
        var (id, sku, alice, bob) = (TestHost.Id("readonly"), TestHost.Id("gizmo"), TestHost.Id("alice"), TestHost.Id("bob"));
        await Host.Client.PutAsJsonAsync($"/api/inventory/items/{sku}", new { stock = 5 });
        await Host.PutAccountAsync(alice, 100);
        await Host.PutAccountAsync(bob, 0);

        Assert.Equal(HttpStatusCode.Accepted, (await Host.StartAsync(new
        {
            transactionId = id,
            participants = new object[]
            {
                new { participant = "inventory", operation = new { type = "check", sku, quantity = 5 } },
                new { participant = "bank", operation = new { type = "debit", account = alice, amount = 10 } },
                new { participant = "bank", operation = new { type = "credit", account = bob, amount = 10 } },
            },
        })).StatusCode);
        var delivered = await PausedInbox.DeliverUntilEndAsync(Host, id, Wait, Inventory, Bank);

        var doc = await Host.GetStatusAsync(id);
        Assert.Equal("Committed", doc.GetProperty("status").GetString());
        var check = doc.GetProperty("participants")[0];
        Assert.Equal("ReadOnly", check.GetProperty("vote").GetString());
        Assert.Equal(JsonValueKind.Null, check.GetProperty("outcome").ValueKind);
        Assert.Equal(["inventory Prepare 0"], delivered.Where(d => d.StartsWith("inventory", StringComparison.Ordinal)));
        // Both bank branches prepared and were committed, each by a command of its own: the read-only branch got none.
        var bank = delivered.Where(d => d.StartsWith("bank", StringComparison.Ordinal)).Distinct().Order(StringComparer.Ordinal).ToList();
        Assert.Equal(["bank Commit 1", "bank Commit 2", "bank Prepare 1", "bank Prepare 2"], bank);
        var item = await Host.Client.GetFromJsonAsync<JsonElement>($"/api/inventory/items/{sku}");
        Assert.Equal((5, 0), (item.GetProperty("stock").GetInt64(), item.GetProperty("reserved").GetInt64()));
        Assert.Equal((90, 0), await Host.GetAccountAsync(alice));
        Assert.Equal((10, 0), await Host.GetAccountAsync(bob));
    }

    [Fact]
    public async Task ReadOnly_ATransactionThatOnlyChecks_IsCommittedByItsVote_WithThePrepareAsItsOnlyCommand()
    {
        var (id, sku) = (TestHost.Id("checkonly"), TestHost.Id("gizmo"));
        await Host.Client.PutAsJsonAsync($"/api/inventory/items/{sku}", new { stock = 5 });

        Assert.Equal(HttpStatusCode.Accepted, (await Host.StartAsync(new
        {
            transactionId = id,
            participants = new object[] { new { participant = "inventory", operation = new { type = "check", sku, quantity = 1 } } },
        })).StatusCode);
        var delivered = await PausedInbox.DeliverUntilEndAsync(Host, id, Wait, Inventory);

        var doc = await Host.GetStatusAsync(id);
        Assert.Equal("Committed", doc.GetProperty("status").GetString());
        Assert.Equal("ReadOnly", doc.GetProperty("participants")[0].GetProperty("vote").GetString());
        Assert.Equal(doc.GetProperty("decidedAt").GetDateTimeOffset(), doc.GetProperty("completedAt").GetDateTimeOffset());
        Assert.Equal(["inventory Prepare 0"], delivered);
    }

    [Fact]
    public async Task LatePrepare_AfterItsBranchWasRolledBack_VotesNo_AndReservesNothing()
    {
        var (id, alice, carol) = (TestHost.Id("late"), TestHost.Id("alice"), TestHost.Id("carol"));
        await Host.PutAccountAsync(alice, 100);
        await Host.PutAccountAsync(carol, 100);

        // Nobody delivers the prepares before the deadline: it aborts, and rollbacks follow the prepares into the queue.
        Assert.Equal(HttpStatusCode.Accepted, (await Host.StartAsync(new
        {
            transactionId = id,
            timeoutSeconds = 1,
            participants = new object[]
            {
                new { participant = "bank", operation = new { type = "debit", account = alice, amount = 60 } },
                new { participant = "bank", operation = new { type = "debit", account = carol, amount = 60 } },
            },
        })).StatusCode);
        var prepares = await Bank.TakeAsync(id, 2, Wait, c => c.Kind == MessageKind.Prepare);
        var rollbacks = await Bank.TakeAsync(id, 2, Wait, c => c.Kind == MessageKind.Rollback);
        var aborting = await Host.WaitForStatusAsync(id, Wait, "Aborting");
        Assert.Equal("vote deadline passed without a vote from 'bank', 'bank'", aborting.GetProperty("reason").GetString());

        // Branch 0: rollback, then its prepare. Branch 1: prepare, then its rollback. Each reply is seen before the next.
        await Bank.DeliverAsync(rollbacks.Single(c => c.Branch == 0));
        await WaitForBranchAsync(id, 0, "outcome", "RolledBack");
        await Bank.DeliverAsync(prepares.Single(c => c.Branch == 0));
        await WaitForBranchAsync(id, 0, "vote", "No");
        Assert.Equal((100, 0), await Host.GetAccountAsync(alice));
        await Bank.DeliverAsync(prepares.Single(c => c.Branch == 1));
        await WaitForBranchAsync(id, 1, "vote", "Yes");
        Assert.Equal((100, 60), await Host.GetAccountAsync(carol));
        await Bank.DeliverAsync(rollbacks.Single(c => c.Branch == 1));

        var doc = await Host.WaitForStatusAsync(id, Wait, "Aborted");
        var branches = doc.GetProperty("participants").EnumerateArray().ToList();
        Assert.Equal("No", branches[0].GetProperty("vote").GetString());
        Assert.Equal(Core.Participants.ParticipantProtocol.RolledBackBeforePrepare, branches[0].GetProperty("reason").GetString());
        Assert.Equal("Yes", branches[1].GetProperty("vote").GetString());
        Assert.All(branches, b => Assert.Equal("RolledBack", b.GetProperty("outcome").GetString()));
        Assert.Equal((100, 0), await Host.GetAccountAsync(alice));
        Assert.Equal((100, 0), await Host.GetAccountAsync(carol));
        Assert.DoesNotContain(await Bank.TakeVisibleAsync(id), c => c.Kind is MessageKind.Commit or MessageKind.Prepare);
    }

    private Task WaitForBranchAsync(string id, int branch, string field, string value) => Eventually.WaitAsync(
        async () => (await Host.GetStatusAsync(id)).GetProperty("participants")[branch].GetProperty(field).GetString() == value,
        Wait,
        $"branch {branch} of {id} showing {field} {value}");

    private static object Debit(string id, string account, long amount) => new
    {
        transactionId = id,
        participants = new object[] { new { participant = "bank", operation = new { type = "debit", account, amount } } },
    };

    /// <summary>A host whose bank and inventory functions do not run: their commands wait in their queues.</summary>
    public sealed class Fixture : HostFixture
    {
        protected override IReadOnlyDictionary<string, string?>? Settings() => new Dictionary<string, string?>
        {
            ["AzureWebJobs.BankParticipant.Disabled"] = "true",
            ["AzureWebJobs.InventoryParticipant.Disabled"] = "true",
        };
    }
}
