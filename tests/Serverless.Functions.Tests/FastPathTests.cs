using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Azure.Data.Tables;
using Microsoft.DurableTask;
using Microsoft.DurableTask.Client;
using Microsoft.Extensions.DependencyInjection;
using Serverless.Core.Messaging;
using Serverless.Core.Protocol;
using Serverless.Functions.Coordination;
using Serverless.Functions.Messaging;
using Serverless.Testing;

namespace Serverless.Functions.Tests;

/// <summary>
/// The fast path (<c>TRANSACTIONS_FAST_PATH</c>, on by default), with the bank's commands delivered by hand: the start request
/// sends the prepares, each voter puts its vote on the decision record's vote board, a Yes that leaves votes missing raises
/// nothing, and the voter that completes the board reports every vote and, all Yes before the deadline, records Commit and
/// commits the branches of this app's participants itself. A No, a passed deadline or a decision recorded first leave the
/// decision to the orchestration.
/// </summary>
public sealed class FastPathTests(FastPathTests.Fixture fixture) : IClassFixture<FastPathTests.Fixture>
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(45);

    private TestHost Host => fixture.Host;

    private LogCapture Logs => fixture.Logs;

    private PausedInbox Bank => new(Host, "bank");

    [Fact]
    public async Task TheVoterThatCompletesTheBoard_RecordsCommit_AndCommitsEveryBranchOfThisApp_WithNoCommandSent()
    {
        var (id, alice, bob) = await StartTransferAsync("fast");

        // The start request sent the prepares, each naming the transaction's branches and its deadline (signed).
        var prepares = (await Bank.TakeAsync(id, 2, Wait)).OrderBy(p => p.Branch).ToList();
        var created = (await Host.GetStatusAsync(id)).GetProperty("createdAt").GetDateTimeOffset();
        Assert.All(prepares, p =>
        {
            Assert.Equal(MessageKind.Prepare, p.Kind);
            Assert.Equal(2, p.Message.Branches);
            Assert.Equal(created.AddSeconds(120), p.Message.Deadline);
        });

        // The first vote goes on the board only: no decision, and no event for the orchestration.
        await Bank.DeliverAsync(prepares[0]);
        Assert.Null(await Host.Decisions.GetAsync(id));
        Assert.Equal((100, 30), await Host.GetAccountAsync(alice));
        var preparing = await Host.GetStatusAsync(id);
        Assert.Equal("Preparing", preparing.GetProperty("status").GetString());
        Assert.All(preparing.GetProperty("participants").EnumerateArray(), b => Assert.Equal(JsonValueKind.Null, b.GetProperty("vote").ValueKind));

        // The second completes it: Commit recorded, both branches committed here, one event that ends the transaction.
        await Bank.DeliverAsync(prepares[1]);
        Assert.Equal(Decision.Commit, (await Host.Decisions.GetAsync(id))?.Decision);
        Assert.Equal((70, 0), await Host.GetAccountAsync(alice));
        Assert.Equal((30, 0), await Host.GetAccountAsync(bob));
        var end = await Host.WaitForStatusAsync(id, Wait, "Committed", "Aborted");
        Assert.Equal("Committed", end.GetProperty("status").GetString());
        Assert.All(end.GetProperty("participants").EnumerateArray(), b =>
        {
            Assert.Equal("Yes", b.GetProperty("vote").GetString());
            Assert.Equal("Committed", b.GetProperty("outcome").GetString());
        });
        Assert.Equal(1, Logs.Count(2007, $"Transaction {id}: participant bank branch 1 completed the votes and recorded Commit; 2 branch(es) committed here, 0 commit(s) sent"));
        Assert.Empty(await Bank.PeekAsync(id));

        // Retention removes the record and the board together.
        await Host.Decisions.DeleteAsync(id);
        Assert.Empty(await Rows(id));
    }

    [Fact]
    public async Task TheVotesOfATransactionHandledHereAtOnce_AreRecordedWithCommitInOneRequest_AndTheOtherVoterStaysSilent()
    {
        // Eight transfers, each with its two prepares delivered at the same moment: when the second vote comes while the
        // first voter is still at the board, the second records both votes and Commit in one request and reports alone.
        var transfers = new List<(string Id, string Alice, string Bob)>();
        for (var i = 0; i < 8; i++)
        {
            var transfer = await StartTransferAsync("fast-pair");
            transfers.Add(transfer);
            var prepares = await Bank.TakeAsync(transfer.Id, 2, Wait);
            await Task.WhenAll(prepares.Select(Bank.DeliverAsync));
        }

        foreach (var (id, alice, bob) in transfers)
        {
            var end = await Host.WaitForStatusAsync(id, Wait, "Committed", "Aborted");
            Assert.Equal("Committed", end.GetProperty("status").GetString());
            Assert.All(end.GetProperty("participants").EnumerateArray(), b => Assert.Equal("Committed", b.GetProperty("outcome").GetString()));
            Assert.Equal((70, 0), await Host.GetAccountAsync(alice));
            Assert.Equal((30, 0), await Host.GetAccountAsync(bob));
            Assert.Equal(1, Logs.Count(2007, $"Transaction {id}:"));
            Assert.Equal(["decision", "end", "vote-00", "vote-01"], (await Rows(id)).Order());
            Assert.Empty(await Bank.PeekAsync(id));
        }

        var inOneRequest = transfers.Count(t => Logs.Count(2009, $"Transaction {t.Id}:") == 1);
        Assert.True(inOneRequest > 0, "no transfer had its two votes handled at once: the one-request path was not taken");
    }

    [Fact]
    public async Task ANoThatCompletesTheBoard_ReportsEveryVote_AndTheOrchestrationAborts_ReleasingTheEarlierYes()
    {
        var (id, alice, bob) = await StartTransferAsync("fast-no", balance: 10);
        var prepares = (await Bank.TakeAsync(id, 2, Wait)).OrderBy(p => p.Branch).ToList();

        // The credit votes Yes first (silently), then the debit votes No: its report carries the credit's Yes too.
        await Bank.DeliverAsync(prepares[1]);
        await Bank.DeliverAsync(prepares[0]);
        var rollbacks = await Bank.TakeAsync(id, 1, Wait);
        Assert.Equal((MessageKind.Rollback, 1), (rollbacks[0].Kind, rollbacks[0].Branch));
        await Bank.DeliverAsync(rollbacks[0]);

        var end = await Host.WaitForStatusAsync(id, Wait, "Committed", "Aborted");
        Assert.Equal("Aborted", end.GetProperty("status").GetString());
        Assert.Contains("insufficient funds", end.GetProperty("reason").GetString(), StringComparison.Ordinal);
        var branches = end.GetProperty("participants");
        Assert.Equal(("No", "Yes"), (branches[0].GetProperty("vote").GetString(), branches[1].GetProperty("vote").GetString()));
        Assert.Equal("RolledBack", branches[1].GetProperty("outcome").GetString());
        Assert.Equal(Decision.Abort, (await Host.Decisions.GetAsync(id))?.Decision);
        Assert.Equal((10, 0), await Host.GetAccountAsync(alice));
        Assert.Equal((0, 0), await Host.GetAccountAsync(bob));
    }

    [Fact]
    public async Task AfterTheDeadline_TheVoterThatCompletesTheBoard_RecordsNothing_AndTheTransactionAborts()
    {
        var (id, alice, bob) = await StartTransferAsync("fast-late", timeoutSeconds: 2);
        var prepares = (await Bank.TakeAsync(id, 2, Wait, c => c.Kind == MessageKind.Prepare)).OrderBy(p => p.Branch).ToList();
        var deadline = prepares[0].Message.Deadline!.Value;
        await Eventually.WaitAsync(() => Task.FromResult(DateTimeOffset.UtcNow > deadline.AddMilliseconds(200)), Wait, "the deadline to pass");

        // Both prepare late, whatever the orchestration's timer has done meanwhile: no participant records Commit (I4).
        foreach (var prepare in prepares)
        {
            await Bank.DeliverAsync(prepare);
        }

        Assert.Equal(Decision.Abort, (await Eventually.WaitAsync(() => Host.Decisions.GetAsync(id), d => d is not null, Wait, "a decision"))!.Decision);
        Assert.Equal(0, Logs.Count(2007, $"Transaction {id}:"));
        await PausedInbox.DeliverUntilEndAsync(Host, id, Wait, Bank);
        var end = await Host.GetStatusAsync(id);
        Assert.Equal("Aborted", end.GetProperty("status").GetString());
        Assert.Contains("deadline", end.GetProperty("reason").GetString(), StringComparison.Ordinal);
        await Eventually.WaitAsync(async () => await Host.GetAccountAsync(alice) == (100, 0), Wait, "alice's hold released");
        Assert.Equal((0, 0), await Host.GetAccountAsync(bob));
    }

    /// <remarks>
    /// With its end recorded, the check adopts the end: nothing is sent. Without (the row deleted here, as when the voter
    /// stopped after recording Commit), it adopts the decision and sends both commits again.
    /// </remarks>
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task AReportTheEngineDiscards_BeforeTheOrchestrationsFirstEpisode_IsFoundOnTheVoteBoard_AndTheTransactionCommitsLongBeforeItsDeadline(bool endRecorded)
    {
        var (id, alice, bob) = (TestHost.Id("fast-lost"), TestHost.Id("alice"), TestHost.Id("bob"));
        await Host.PutAccountAsync(alice, 100);
        await Host.PutAccountAsync(bob, 0);

        // What the start request does, but with the orchestration's first episode held back 5 s, as when the engine's start
        // message comes back late (an abandoned fetch, a lease moving): the prepares are out first.
        var createdAt = DateTimeOffset.UtcNow;
        var request = new TransactionRequest(
            id,
            600,
            [
                new BranchRequest("bank", JsonSerializer.Serialize(new { type = "debit", account = alice, amount = 30 })),
                new BranchRequest("bank", JsonSerializer.Serialize(new { type = "credit", account = bob, amount = 30 })),
            ],
            "lost-report",
            createdAt) { PreparesSent = true };
        await Host.Services.GetRequiredService<DurableTaskClient>().ScheduleNewOrchestrationInstanceAsync(
            TwoPhaseCommitFunctions.OrchestratorName, request, new StartOrchestrationOptions(id, createdAt.AddSeconds(5)));
        await Host.Services.GetRequiredService<ProtocolQueues>().SendAsync(id, request.FastPathPrepares());

        // Both vote at once: Commit recorded, both branches committed here, and the one report raised before the
        // orchestration has a history, which the engine discards.
        foreach (var prepare in await Bank.TakeAsync(id, 2, Wait))
        {
            await Bank.DeliverAsync(prepare);
        }

        Assert.Equal(Decision.Commit, (await Host.Decisions.GetAsync(id))?.Decision);
        Assert.Equal((70, 0), await Host.GetAccountAsync(alice));

        // The voter committed both branches and recorded the end: the status shows the transaction Committed, from its
        // record, though its orchestration has not run yet.
        if (!endRecorded)
        {
            await Host.Decisions.Table.DeleteEntityAsync(id, "end");
        }

        var early = await Host.GetStatusAsync(id);
        Assert.Equal(OrchestrationRuntimeStatus.Pending, (await Durable.GetInstanceAsync(id))?.RuntimeStatus);
        Assert.Equal(endRecorded ? "Committed" : "Preparing", early.GetProperty("status").GetString());
        await Eventually.WaitAsync(
            () => Task.FromResult(Logs.Lines.Any(l => l.Message.Contains(id, StringComparison.Ordinal) && l.Message.Contains("No such instance", StringComparison.Ordinal))),
            Wait,
            "the engine to discard the report");

        // The first vote-board check (10 s after the start) finds the decision and ends with most of its 600 s deadline to
        // spare: it adopts the recorded end, or, without one, sends both commits again (duplicates, answered as the first
        // time; its 1 s phase-2 retry may repeat them).
        var commands = await PausedInbox.DeliverUntilEndAsync(Host, id, Wait, Bank);
        Assert.Equal(endRecorded ? [] : ["bank Commit 0", "bank Commit 1"], commands.Distinct().Order());
        Assert.Equal(OrchestrationRuntimeStatus.Completed, (await Durable.GetInstanceAsync(id))?.RuntimeStatus);
        var end = await Host.GetStatusAsync(id);
        Assert.Equal("Committed", end.GetProperty("status").GetString());
        Assert.All(end.GetProperty("participants").EnumerateArray(), b => Assert.Equal("Committed", b.GetProperty("outcome").GetString()));
        if (endRecorded)
        {
            Assert.Equal(early.GetRawText(), end.GetRawText());
        }

        Assert.Equal(1, Logs.Count(1011, $"Transaction {id}: vote-board check 1 found 2 vote(s) and decision Commit"));
        Assert.Equal((70, 0), await Host.GetAccountAsync(alice));
        Assert.Equal((30, 0), await Host.GetAccountAsync(bob));
    }

    [Fact]
    public async Task AStartWaitingForItsOutcome_IsAnsweredWhenTheDecidingVoterEndsIt_AndEveryLaterReadShowsTheSameDocument()
    {
        var (id, alice, bob) = (TestHost.Id("fast-wait"), TestHost.Id("alice"), TestHost.Id("bob"));
        await Host.PutAccountAsync(alice, 100);
        await Host.PutAccountAsync(bob, 0);
        var answer = Host.StartAsync(TestHost.Transfer(id, alice, bob, 30, timeoutSeconds: 120), waitSeconds: 30);

        // Both prepares handled in the host's process at once: the voter that completes the votes records Commit, commits
        // both branches, raises the report and records the end, and the waiting start is answered from its report.
        var prepares = await Bank.TakeAsync(id, 2, Wait);
        await Task.WhenAll(prepares.Select(Bank.DeliverAsync));
        using var response = await answer;
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var answered = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("Committed", answered.GetProperty("status").GetString());
        Assert.All(answered.GetProperty("participants").EnumerateArray(), b => Assert.Equal("Committed", b.GetProperty("outcome").GetString()));
        Assert.Equal(1, Logs.Count(1012, $"Transaction {id}: answered Committed"));
        Assert.Equal((70, 0), await Host.GetAccountAsync(alice));

        // Read at once (from the record, or from the orchestration if it already applied the report), and once the
        // orchestration has ended: the same document, times included.
        Assert.Equal(answered.GetRawText(), (await Host.GetStatusAsync(id)).GetRawText());
        await Eventually.WaitAsync(async () => await Durable.GetInstanceAsync(id) is { IsCompleted: true }, Wait, "the orchestration to end");
        Assert.Equal(answered.GetRawText(), (await Host.GetStatusAsync(id)).GetRawText());
    }

    private DurableTaskClient Durable => Host.Services.GetRequiredService<DurableTaskClient>();

    /// <summary>Two new accounts, alice holding <paramref name="balance"/> and bob nothing, and a started transfer of 30 from alice to bob.</summary>
    private async Task<(string Id, string Alice, string Bob)> StartTransferAsync(string hint, long balance = 100, int timeoutSeconds = 120)
    {
        var (id, alice, bob) = (TestHost.Id(hint), TestHost.Id("alice"), TestHost.Id("bob"));
        await Host.PutAccountAsync(alice, balance);
        await Host.PutAccountAsync(bob, 0);
        Assert.Equal(HttpStatusCode.Accepted, (await Host.StartAsync(TestHost.Transfer(id, alice, bob, 30, timeoutSeconds: timeoutSeconds))).StatusCode);
        return (id, alice, bob);
    }

    private async Task<List<string>> Rows(string transactionId)
    {
        var rows = new List<string>();
        await foreach (var row in Host.Decisions.Table.QueryAsync<TableEntity>(e => e.PartitionKey == transactionId))
        {
            rows.Add(row.RowKey);
        }

        return rows;
    }

    /// <summary>A host whose bank function does not run (the tests deliver its commands), on the fast path, logging the participants' debug lines.</summary>
    public sealed class Fixture : HostFixture
    {
        protected override IReadOnlyDictionary<string, string?>? Settings() => new Dictionary<string, string?>
        {
            ["AzureWebJobs.BankParticipant.Disabled"] = "true",
            ["Logging:LogLevel:Serverless.Functions.Participants"] = "Debug",
            ["Logging:LogLevel:Serverless.Functions.Api"] = "Debug",
            ["Logging:LogLevel:DurableTask.AzureStorage"] = "Warning",
        };
    }
}
