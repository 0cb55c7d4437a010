using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.DurableTask;
using Microsoft.DurableTask.Client;
using Serverless.Core.Messaging;
using Serverless.Core.Participants;
using Serverless.Core.Protocol;
using Serverless.Functions.Coordination;
using Serverless.Functions.Messaging;
using Serverless.Functions.Storage;
using Serverless.Testing;

namespace Serverless.Resilience.Tests;

/// <summary>
/// A host whose bank queue function is off (the tests hand the bank its commands, or lose them), whose phase 2 is not re-sent
/// within a test (first retry after an hour), and whose in-doubt resolver runs every second for branches prepared over five
/// seconds ago. So a command that reaches the bank's inbox after a failure was sent by the failed orchestration's
/// compensation, and a hold still there after that is finished by the resolver.
/// </summary>
public sealed class FailedOrchestrationHostFixture : LoggedHostFixture
{
    protected override IReadOnlyDictionary<string, string?> Settings() => new Dictionary<string, string?>
    {
        ["AzureWebJobs.BankParticipant.Disabled"] = "true",
        ["TRANSACTIONS_IN_DOUBT_SCHEDULE"] = "*/1 * * * * *",
        ["TRANSACTIONS_IN_DOUBT_SECONDS"] = "5",

        ["TRANSACTIONS_PHASE2_RETRY_SECONDS"] = "3600",
    };
}

/// <summary>
/// "A failed orchestration is never silent, and nothing it owes is abandoned" (docs/reliability.md, When an orchestration
/// fails): an exception in a <c>TwoPhaseCommit</c> run, from an input or an event payload it cannot handle, is compensated
/// (Abort proposed first writer wins, phase 2 of the recorded decision sent), raised as a Critical alert (event 1008), and
/// the instance ends Failed; the instance is then run again at once as a run that finishes it (the recorded decision carried
/// out to every branch until each acknowledged), and an operator's terminate is finished the same way. Real engine, real
/// poison inputs: no switch in the product.
/// </summary>
public sealed class FailedOrchestrationTests(FailedOrchestrationHostFixture fixture) : IClassFixture<FailedOrchestrationHostFixture>
{
    private const int Alert = 1008;
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    private TestHost Host => fixture.Host;

    [Fact]
    public async Task AnInputTheOrchestratorCannotRun_FailsAtOnce_RecordsAbort_Alerts_AndAPreparedHoldIsReleased()
    {
        var account = await AccountAsync(100);
        var id = TestHost.Id("poison-input");
        Assert.Equal(Vote.Yes, (await Host.Bank().PrepareAsync(new BranchKey(id, 0), Debit(account, 30))).Vote);
        Assert.Equal((100, 30), await Host.GetAccountAsync(account));

        // Not a request this orchestration can run (an older shape without branches): scheduled as any client would.
        await Host.Durable().ScheduleNewOrchestrationInstanceAsync(
            TwoPhaseCommitFunctions.OrchestratorName,
            new { Id = id, TimeoutSeconds = 60, CreatedAt = DateTimeOffset.UtcNow },
            new StartOrchestrationOptions(id));

        var failed = await WaitForRuntimeStatusAsync(id, OrchestrationRuntimeStatus.Failed);
        Assert.Contains("the input has no branches", failed.FailureDetails?.ErrorMessage ?? failed.SerializedOutput, StringComparison.Ordinal);
        var recorded = await Host.Decisions.GetAsync(id);
        Assert.Equal(Decision.Abort, recorded!.Decision);
        Assert.StartsWith(TwoPhaseCommitOrchestration.FailureReasonPrefix + nameof(InvalidDataException), recorded.Reason, StringComparison.Ordinal);
        Assert.Equal(1, fixture.Logs.Count(Alert, id));

        // No run can read that input, so none is started to finish it: it sent nothing, and the record answers the branch.
        await Eventually.WaitAsync(() => Task.FromResult(fixture.Logs.Count(1018, id) > 0), Wait, "the finishing pass leaving the poison input alone");
        Assert.Equal(0, fixture.Logs.Count(1016, id));
        await Eventually.WaitAsync(async () => await Host.GetAccountAsync(account) == (100, 0), Wait, "the hold released by the recorded Abort");
        Assert.Equal(nameof(BranchPhase.RolledBack), Assert.Single(await Host.BankRecordsAsync(id)).Phase);

        var status = await Host.GetStatusAsync(id);
        Assert.Equal(("Aborting", "Abort"), (status.GetProperty("status").GetString(), status.GetProperty("decision").GetString()));
        Assert.Contains("orchestration failed: InvalidDataException", status.GetProperty("reason").GetString(), StringComparison.Ordinal);
        Assert.Contains(id, await ListAsync("Aborting"));
        Assert.DoesNotContain(id, await ListAsync("Preparing"));
    }

    [Fact]
    public async Task APoisonVoteBeforeTheDecision_FailsTheRun_WhichRecordsAbort_AndTellsEveryBranchToRollBack()
    {
        var account = await AccountAsync(100);
        var id = TestHost.Id("poison-vote");
        Assert.Equal(HttpStatusCode.Accepted, (await Host.StartAsync(BankAndGhost(id, account))).StatusCode);
        await Host.DeliverByHandAsync("bank", id, expected: 1, Wait);
        Assert.Equal((100, 30), await Host.GetAccountAsync(account));
        Assert.Equal("Preparing", (await Host.GetStatusAsync(id)).GetProperty("status").GetString());

        // A vote event without a payload: the engine hands the orchestrator null.
        await Host.Durable().RaiseEventAsync(id, TransactionEvents.Vote, null);

        await Eventually.WaitAsync(() => Task.FromResult(fixture.Logs.Count(Alert, id) == 1), Wait, "the failed run's alert");
        Assert.Equal(Decision.Abort, (await Host.Decisions.GetAsync(id))!.Decision);

        // The rollbacks come from the compensation and from the run that finishes the failed one.
        await Eventually.WaitAsync(() => Task.FromResult(fixture.Logs.Count(1016, id) == 1), Wait, "the failed run started again to finish it");
        await Host.DeliverByHandAsync("bank", id, expected: 1, Wait);
        Assert.Equal((100, 0), await Host.GetAccountAsync(account));
        Assert.Equal(nameof(BranchPhase.RolledBack), Assert.Single(await Host.BankRecordsAsync(id)).Phase);
        Assert.Contains(await Host.PeekAsync(QueueNames.Participant("ghost")), m => Host.CodecOf("ghost").TryDecode(m, out var c, out _)
            && c!.TransactionId == id && c.Kind == MessageKind.Rollback && c.Branch == 1);

        var alert = Assert.Single(fixture.Logs.Lines, l => l.EventId == Alert && l.Message.Contains(id, StringComparison.Ordinal));
        Assert.Contains("NullReferenceException", alert.Message, StringComparison.Ordinal);
        Assert.Contains("decision Abort", alert.Message, StringComparison.Ordinal);
        Assert.Contains("0 bank: vote Yes", alert.Message, StringComparison.Ordinal);
        Assert.Contains("1 ghost: vote none", alert.Message, StringComparison.Ordinal);

        // The finishing run waits for ghost's acknowledgement, which never comes (nothing serves ghost): Aborting, the
        // failure as its reason, the bank's branch rolled back.
        // The bank's rollback that the finishing run sent may come after the one delivered above (the failed run's): each is
        // delivered as it comes, until the finishing run has the bank's acknowledgement.
        JsonElement status = default;
        await Eventually.WaitAsync(
            async () =>
            {
                await Host.DeliverByHandAsync("bank", id, expected: 0, Wait);
                status = await Host.GetStatusAsync(id);
                return status.GetProperty("participants")[0].GetProperty("outcome").GetString() == "RolledBack";
            },
            Wait,
            "the bank's rollback acknowledged");
        Assert.Equal(("Aborting", "Abort"), (status.GetProperty("status").GetString(), status.GetProperty("decision").GetString()));
        Assert.Contains("orchestration failed", status.GetProperty("reason").GetString(), StringComparison.Ordinal);
        Assert.Equal(OrchestrationRuntimeStatus.Running, (await Host.Durable().GetInstanceAsync(id))!.RuntimeStatus);
    }

    [Fact]
    public async Task AFailureAfterACommitDecision_StillCommitsEveryBranch_NeverAMix()
    {
        var (from, to) = (await AccountAsync(100), await AccountAsync(0));
        var id = TestHost.Id("poison-after-commit");
        Assert.Equal(HttpStatusCode.Accepted, (await Host.StartAsync(TestHost.Transfer(id, from, to, 30, timeoutSeconds: 60))).StatusCode);
        await Host.DeliverByHandAsync("bank", id, expected: 2, Wait);
        await Host.WaitForStatusAsync(id, Wait, "Committing");
        Assert.Equal(2, await Host.DropCommandsAsync("bank", id, expected: 2, Wait)); // both commits lost

        // An acknowledgement without a payload: the run fails after Commit was recorded.
        await Host.Durable().RaiseEventAsync(id, TransactionEvents.Ack, null);

        await Eventually.WaitAsync(() => Task.FromResult(fixture.Logs.Count(Alert, id) == 1), Wait, "the failed run's alert");
        await Host.DeliverByHandAsync("bank", id, expected: 2, Wait);
        Assert.Equal((70, 0), await Host.GetAccountAsync(from));
        Assert.Equal((30, 0), await Host.GetAccountAsync(to));
        Assert.All(await Host.BankRecordsAsync(id), r => Assert.Equal(nameof(BranchPhase.Committed), r.Phase));
        Assert.Equal(Decision.Commit, (await Host.Decisions.GetAsync(id))!.Decision);

        var alert = Assert.Single(fixture.Logs.Lines, l => l.EventId == Alert && l.Message.Contains(id, StringComparison.Ordinal));
        Assert.Contains("decision Commit", alert.Message, StringComparison.Ordinal);
        Assert.Contains("phase 2 sent to 2 branch(es)", alert.Message, StringComparison.Ordinal);

        // Ended means terminal: the run that finishes the failed one sends both commits again and ends Committed once both
        // are acknowledged, in the status read and the listing alike.
        await Eventually.WaitAsync(() => Task.FromResult(fixture.Logs.Count(1016, id) == 1), Wait, "the failed run started again to finish it");
        await Host.DeliverByHandAsync("bank", id, expected: 2, Wait);
        var status = await Host.WaitForStatusAsync(id, Wait, "Committed");
        Assert.Equal("Commit", status.GetProperty("decision").GetString());
        Assert.Equal(["Committed", "Committed"], status.GetProperty("participants").EnumerateArray().Select(b => b.GetProperty("outcome").GetString()));
        Assert.Equal((70, 0), await Host.GetAccountAsync(from));
        Assert.Equal(OrchestrationRuntimeStatus.Completed, (await Host.Durable().GetInstanceAsync(id))!.RuntimeStatus);
        Assert.Contains(id, await ListAsync("Committed"));
        Assert.DoesNotContain(id, await ListAsync("Committing"));
    }

    [Fact]
    public async Task ATerminatedOrchestration_IsFinishedByPresumedAbort_EveryBranchToldToRollBack_AndEndsAborted()
    {
        var account = await AccountAsync(100);
        var id = TestHost.Id("terminated");
        Assert.Equal(HttpStatusCode.Accepted, (await Host.StartAsync(BankAndBank(id, account))).StatusCode);
        await Host.DeliverByHandAsync("bank", id, expected: 1, c => c.Branch == 0, Wait);
        Assert.Equal((100, 30), await Host.GetAccountAsync(account));

        await Host.Durable().TerminateInstanceAsync(id, new TerminateInstanceOptions { Output = "test: an operator's terminate" });

        // Started again at once to finish it: presumed abort recorded, and both branches told (the second one never
        // prepared: its rollback leaves a marker so that its late prepare reserves nothing, I6).
        await Eventually.WaitAsync(() => Task.FromResult(fixture.Logs.Count(1016, id) == 1), Wait, "the terminated run started again to finish it");
        await Host.DeliverByHandAsync("bank", id, expected: 2, c => c.Kind == MessageKind.Rollback, Wait);
        var status = await Host.WaitForStatusAsync(id, Wait, "Aborted");
        Assert.Equal("Abort", status.GetProperty("decision").GetString());
        Assert.Equal("presumed abort: the orchestration was terminated before a decision was recorded", status.GetProperty("reason").GetString());
        Assert.Equal((100, 0), await Host.GetAccountAsync(account));
        Assert.Contains(id, await ListAsync("Aborted"));
        Assert.Equal(0, fixture.Logs.Count(Alert, id)); // a terminate runs no orchestrator code: the operator did it

        // The prepare that never arrived arrives now: it votes No and reserves nothing.
        await Host.DeliverByHandAsync("bank", id, expected: 1, c => c.Kind == MessageKind.Prepare, Wait);
        Assert.Equal((100, 0), await Host.GetAccountAsync(account));
    }

    private async Task<OrchestrationMetadata> WaitForRuntimeStatusAsync(string id, OrchestrationRuntimeStatus expected)
    {
        OrchestrationMetadata? instance = null;
        await Eventually.WaitAsync(
            async () => (instance = await Host.Durable().GetInstanceAsync(id, getInputsAndOutputs: true))?.RuntimeStatus == expected,
            Wait,
            $"orchestration {id} {expected}");
        return instance!;
    }

    private async Task<IReadOnlyList<string>> ListAsync(string status)
    {
        var page = await Host.Client.GetFromJsonAsync<JsonElement>($"/api/transactions?status={status}&top=1000");
        return [.. page.GetProperty("items").EnumerateArray().Select(i => i.GetProperty("id").GetString()!)];
    }

    private async Task<string> AccountAsync(long balance)
    {
        var account = TestHost.Id("acct");
        await Host.PutAccountOrFailAsync(account, balance);
        return account;
    }

    private static string Debit(string account, long amount) => $$"""{"type":"debit","account":"{{account}}","amount":{{amount}}}""";

    /// <summary>Two debits of 30 on <paramref name="account"/>, long deadline: the transaction stays Preparing until both are delivered by hand.</summary>
    private static object BankAndBank(string id, string account) => new
    {
        transactionId = id,
        timeoutSeconds = 3600,
        participants = new object[]
        {
            new { participant = "bank", operation = new { type = "debit", account, amount = 30 } },
            new { participant = "bank", operation = new { type = "debit", account, amount = 30 } },
        },
    };

    /// <summary>A debit of 30 on <paramref name="account"/> and a branch of <c>ghost</c>, which never votes: the transaction stays Preparing.</summary>
    private static object BankAndGhost(string id, string account) => new
    {
        transactionId = id,
        timeoutSeconds = 3600,
        participants = new object[]
        {
            new { participant = "bank", operation = new { type = "debit", account, amount = 30 } },
            new { participant = "ghost", operation = new { step = 1 } },
        },
    };
}
