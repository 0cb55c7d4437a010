using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Serverless.Core.Messaging;
using Serverless.Core.Protocol;
using Serverless.Functions.Coordination;
using Serverless.Functions.Hosting;
using Serverless.Functions.Messaging;
using Serverless.Functions.Retention;
using Serverless.Functions.Settings;
using Serverless.Testing;

namespace Serverless.Functions.Tests;

/// <summary>
/// One claim per transaction id (I9): an id is taken by one insert before anything is scheduled, and a purged transaction's
/// claim is its tombstone. Nothing recorded for an old or never-started transaction answers a new one, and a transaction
/// that ended keeps its outcome.
/// </summary>
public sealed class ClaimTests(HostFixture fixture) : IClassFixture<HostFixture>
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    private TestHost Host => fixture.Host;

    private TransactionClaims Claims => Host.Services.GetRequiredService<TransactionClaims>();

    [Fact]
    public async Task ADecisionRowThatNoClaimOwns_IsNotAdopted_ByATransactionStartedLaterUnderItsId()
    {
        var (id, alice, bob) = (TestHost.Id("stale"), TestHost.Id("alice"), TestHost.Id("bob"));
        await Host.PutAccountAsync(alice, 100);
        await Host.PutAccountAsync(bob, 0);

        // As a presumed abort before claims existed left it: an Abort for an id no start had taken.
        await Host.Decisions.RecordAsync(id, new DecisionRecord(Decision.Abort, "presumed abort: the coordinator has no record of the transaction", DateTimeOffset.UtcNow, []));

        var doc = await EndAsync(TestHost.Transfer(id, alice, bob, 30));

        Assert.Equal("Committed", doc.GetProperty("status").GetString());
        Assert.Equal(Decision.Commit, (await Host.Decisions.GetAsync(id))?.Decision);
        Assert.Equal((70, 0), await Host.GetAccountAsync(alice));
        Assert.Equal((30, 0), await Host.GetAccountAsync(bob));
    }

    [Fact]
    public async Task AnInquiryAboutAnIdNoStartTook_ClaimsItForItsPresumedAbort_SoNoLaterStartCanTakeIt()
    {
        var (id, alice, bob) = (TestHost.Id("asked"), TestHost.Id("alice"), TestHost.Id("bob"));
        await Host.PutAccountAsync(alice, 100);
        await Host.PutAccountAsync(bob, 0);

        // A participant holding a branch of a transaction the coordinator never started asks about it.
        await Host.Queue(QueueNames.Coordinator).SendMessageAsync(Host.CodecOf("ghost").Encode(
            new ProtocolMessage(MessageKind.Inquiry, id) { Branch = 0, Participant = "ghost", Operation = "{}" }));
        await Eventually.WaitAsync(async () => await Host.Decisions.GetAsync(id) is { Decision: Decision.Abort }, Wait, "the presumed abort recorded");
        Assert.True((await Claims.GetAsync(id))?.IsPresumedAbort, "the presumption claimed the id");

        using var start = await Host.StartAsync(TestHost.Transfer(id, alice, bob, 30));

        Assert.Equal(HttpStatusCode.Conflict, start.StatusCode);
        Assert.Contains("taken by a presumed abort", (await start.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal((100, 0), await Host.GetAccountAsync(alice));
    }

    [Fact]
    public async Task TheSameStartAgain_IsTheSameTransaction_AndAnotherBodyUnderItsId_Is409()
    {
        var (id, alice, bob) = (TestHost.Id("again"), TestHost.Id("alice"), TestHost.Id("bob"));
        await Host.PutAccountAsync(alice, 100);
        await Host.PutAccountAsync(bob, 0);
        Assert.Equal("Committed", (await EndAsync(TestHost.Transfer(id, alice, bob, 30))).GetProperty("status").GetString());

        using var same = await Host.StartAsync(TestHost.Transfer(id, alice, bob, 30), waitSeconds: 10);
        using var other = await Host.StartAsync(TestHost.Transfer(id, bob, alice, 5));

        Assert.Equal(HttpStatusCode.OK, same.StatusCode);
        Assert.Equal("Committed", (await same.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("status").GetString());
        Assert.Equal(HttpStatusCode.Conflict, other.StatusCode);
        Assert.Equal((70, 0), await Host.GetAccountAsync(alice));
        Assert.Equal((30, 0), await Host.GetAccountAsync(bob));
    }

    [Fact]
    public async Task APurgeThroughTheManagementApi_DoesNotFreeTheId_NorLetItsDecisionAnswerAnotherTransaction()
    {
        var (id, alice, bob, poor) = (TestHost.Id("mgmt-purged"), TestHost.Id("alice"), TestHost.Id("bob"), TestHost.Id("poor"));
        await Host.PutAccountAsync(alice, 100);
        await Host.PutAccountAsync(bob, 0);
        await Host.PutAccountAsync(poor, 5);
        Assert.Equal("Committed", (await EndAsync(TestHost.Transfer(id, alice, bob, 30))).GetProperty("status").GetString());

        using (var purge = await Host.Client.DeleteAsync($"/runtime/webhooks/durabletask/instances/{id}"))
        {
            Assert.Equal(HttpStatusCode.OK, purge.StatusCode);
        }

        // Another transfer under the id, from an account that cannot pay: refused before anything is scheduled, so the
        // old Commit still recorded under the id commits nothing of it.
        using var other = await Host.StartAsync(TestHost.Transfer(id, poor, bob, 30));

        Assert.Equal(HttpStatusCode.Conflict, other.StatusCode);
        Assert.Equal((5, 0), await Host.GetAccountAsync(poor));
        Assert.Equal((30, 0), await Host.GetAccountAsync(bob));
    }

    [Fact]
    public async Task AnAbort_OfACompletedTransaction_OrOfOneBeingPurged_OrOfAPurgedOne_Is409_AndRecordsNothing()
    {
        var (id, alice, bob) = (TestHost.Id("ended"), TestHost.Id("alice"), TestHost.Id("bob"));
        await Host.PutAccountAsync(alice, 100);
        await Host.PutAccountAsync(bob, 0);
        Assert.Equal("Committed", (await EndAsync(TestHost.Transfer(id, alice, bob, 30))).GetProperty("status").GetString());

        using (var completed = await Host.Client.PostAsync($"/api/transactions/{id}/abort", null))
        {
            Assert.Equal(HttpStatusCode.Conflict, completed.StatusCode);
        }

        // Retention's first step done (the claim is the tombstone; the decision row and the instance are still there): a
        // start and an abort in that window are refused, and the purge then goes through.
        await Claims.TombstoneAsync(id, DateTimeOffset.UtcNow);
        using (var start = await Host.StartAsync(TestHost.Transfer(id, alice, bob, 30)))
        {
            Assert.Equal(HttpStatusCode.Conflict, start.StatusCode);
        }

        using (var purging = await Host.Client.PostAsync($"/api/transactions/{id}/abort", null))
        {
            Assert.Equal(HttpStatusCode.Conflict, purging.StatusCode);
        }

        Assert.Equal(Decision.Commit, (await Host.Decisions.GetAsync(id))?.Decision);
        var settings = Host.Services.GetRequiredService<TransactionsSettings>();
        var later = new Retention(DateTimeOffset.UtcNow + settings.HistoryRetention + TimeSpan.FromMinutes(1));
        var retention = new HistoryRetention(Host.Decisions, Claims, settings, later, NullLogger<HistoryRetention>.Instance);
        // A pass may purge other ended transactions of this host first: passes run until this one is gone.
        await Eventually.WaitAsync(
            async () =>
            {
                await retention.PurgeAsync(Host.Durable());
                return await Host.Durable().GetInstanceAsync(id) is null;
            },
            Wait,
            "the purge");

        Assert.Null(await Host.Durable().GetInstanceAsync(id));
        Assert.Null(await Host.Decisions.GetAsync(id));
        using (var purged = await Host.Client.PostAsync($"/api/transactions/{id}/abort", null))
        {
            Assert.Equal(HttpStatusCode.Conflict, purged.StatusCode);
        }

        Assert.Null(await Host.Decisions.GetAsync(id));
        Assert.Equal((70, 0), await Host.GetAccountAsync(alice));
    }

    [Fact]
    public async Task ADecisionCarriedInAVote_IsIgnored_InATransactionOfSeveralBranches()
    {
        var id = TestHost.Id("vote-decides");
        Assert.Equal(HttpStatusCode.Accepted, (await Host.StartAsync(TestHost.TwoGhostBranches(id))).StatusCode);

        // A vote of branch 0 that claims the transaction decided Commit and its branch committed (only the branch of a
        // one-branch transaction decides so).
        await Host.Durable().RaiseEventAsync(id, TransactionEvents.Vote, new VoteEvent(0, Vote.Yes, null, Decision.Commit, BranchOutcome.Committed, "ghost"));

        var doc = await Host.WaitForStatusAsync(id, s => s.GetProperty("participants")[0].GetProperty("vote").GetString() == "Yes", Wait, "branch 0's vote");
        Assert.Equal("Preparing", doc.GetProperty("status").GetString());
        Assert.Equal(JsonValueKind.Null, doc.GetProperty("decision").ValueKind);
        Assert.Equal(JsonValueKind.Null, doc.GetProperty("participants")[0].GetProperty("outcome").ValueKind);
        Assert.Null(await Host.Decisions.GetAsync(id));
        Assert.True(fixture.Logs.Count(1004, "carries a decision") >= 1);
        Assert.Equal(HttpStatusCode.Accepted, (await Host.Client.PostAsync($"/api/transactions/{id}/abort", null)).StatusCode);
    }

    private async Task<JsonElement> EndAsync(object body)
    {
        using var response = await Host.StartAsync(body);
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var id = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString()!;
        return await Host.WaitForStatusAsync(id, Wait, "Committed", "Aborted");
    }

    private sealed class Retention(DateTimeOffset now) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => now;
    }
}
