using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using Serverless.Functions.Faults;
using Serverless.Testing;

namespace Serverless.Crash.Tests;

/// <summary>
/// The host kills itself (SIGKILL) at one step of one transfer (its <c>TRANSACTIONS_CRASH_POINT</c>), is started again
/// without the crash point, and the transfer still ends correctly: I1 (all or nothing, at the coordinator and at the
/// participant), I2 (one decision, the recorded one), I7 (it ends) and I8 (no decision lost, no amount left held, nothing
/// applied twice, no poison message, the orchestration Completed).
/// </summary>
/// <remarks>
/// The hosts here lease Durable's messages for <see cref="DurableLeaseSeconds"/> s and queue messages for
/// <see cref="MessageLeaseSeconds"/> s (one transfer at a time, so short leases cannot expire under a busy worker): what the
/// killed process held comes back soon after the restart.
/// </remarks>
public sealed class CrashPointTests(HostFixture fixture, ITestOutputHelper output) : IClassFixture<HostFixture>
{
    private const int DurableLeaseSeconds = 5;
    private const int MessageLeaseSeconds = 3;
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);
    private static readonly Dictionary<string, long> Initial = new(StringComparer.Ordinal) { ["alice"] = 100, ["bob"] = 10 };

    [Fact]
    public async Task CrashBeforeAnyPrepareLeaves_ARetriedStartAfterTheRestartAnswersAsTheFirstTime_AndTheTransferCommits()
    {
        await using var run = await ArmAsync(CrashPoint.BeforePrepareSends);

        using (await TryStartAsync(run, timeoutSeconds: 30))
        {
        }

        await CrashedAsync(run, CrashPoint.BeforePrepareSends);
        Assert.Equal("Preparing", await run.Probe.TransactionStatusAsync(run.Transfer.Id));
        Assert.Empty(await run.Probe.BranchRecordsAsync());

        await run.Host.StartAgainAsync();
        using var retried = await TryStartAsync(run, timeoutSeconds: 30);
        Assert.True(retried?.StatusCode is HttpStatusCode.Accepted or HttpStatusCode.OK, $"retried start answered {retried?.StatusCode}");

        await EndsAsync(run, "Committed");
    }

    [Fact]
    public async Task CrashAfterAPrepareIsInItsInbox_TheDeadlinePassesWhileDown_TheTransferAbortsAndTheRedeliveredPreparesReserveNothing()
    {
        await using var run = await ArmAsync(CrashPoint.AfterPrepareSent);
        const int deadlineSeconds = 3;
        var deadline = DateTimeOffset.UtcNow.AddSeconds(deadlineSeconds);

        using (await TryStartAsync(run, deadlineSeconds))
        {
        }

        await CrashedAsync(run, CrashPoint.AfterPrepareSent);
        Assert.Equal("Preparing", await run.Probe.TransactionStatusAsync(run.Transfer.Id));

        // A prepare is in its inbox, not handled. The deadline passes while the host is down. After the restart the votes of
        // the re-run Prepare activities may reach the orchestration before its timer's event (a crash can leave the first episode's
        // history unsaved, so the timer is created again), but the orchestration's clock is past the deadline, which
        // therefore goes first: Abort. The prepares find their branches rolled back or vote into a decided Abort (I6).
        await Eventually.WaitAsync(() => Task.FromResult(DateTimeOffset.UtcNow > deadline.AddSeconds(2)), Timeout, "the deadline to pass while the host is down");
        await run.Host.StartAgainAsync();
        var status = await EndsAsync(run, "Aborted");
        Assert.Contains("deadline", status.GetProperty("reason").GetString(), StringComparison.Ordinal);
    }

    /// <remarks>
    /// With local delivery off, every command goes by its inbox's queue function, which raises the vote on the orchestration:
    /// the crash leaves the raised vote's branch prepared and its prepare not yet complete in its inbox.
    /// </remarks>
    [Fact]
    public async Task CrashAfterAVoteIsRaised_TheRedeliveredPrepareRaisesItAgain_AndTheTransferCommitsOnce()
    {
        await using var run = await ArmAsync(CrashPoint.AfterVoteRaised, queueOnly: true);

        await StartAsync(run);
        await CrashedAsync(run, CrashPoint.AfterVoteRaised);
        Assert.Contains(await run.Probe.BranchRecordsAsync(), r => r.Phase == "Prepared");

        await run.Host.StartAgainAsync();
        await EndsAsync(run, "Committed");
    }

    [Fact]
    public async Task CrashAfterTheDecisionIsRecorded_TheRecordingActivityRunsAgain_AndBothBranchesCommitAfterTheRestart()
    {
        await using var run = await ArmAsync(CrashPoint.AfterDecisionRecorded);

        await StartAsync(run);
        await CrashedAsync(run, CrashPoint.AfterDecisionRecorded);
        Assert.Equal("Commit", (await run.Probe.DecisionsAsync())[run.Transfer.Id]);
        Assert.All(await run.Probe.BranchRecordsAsync(), r => Assert.Equal("Prepared", r.Phase));

        await run.Host.StartAgainAsync();
        await EndsAsync(run, "Committed");
    }

    [Fact]
    public async Task CrashAfterACommitIsInItsInbox_BeforeItIsHandled_TheCommitReachesEveryBranchAfterTheRestart()
    {
        await using var run = await ArmAsync(CrashPoint.AfterPhase2Sent);

        await StartAsync(run);
        await CrashedAsync(run, CrashPoint.AfterPhase2Sent);
        Assert.Equal("Commit", (await run.Probe.DecisionsAsync())[run.Transfer.Id]);

        await run.Host.StartAgainAsync();
        await EndsAsync(run, "Committed");
    }

    [Fact]
    public async Task CrashInAParticipantAfterItsReservationIsWritten_TheRedeliveredPrepareVotesAgainAndTheTransferCommits()
    {
        await using var run = await ArmAsync(CrashPoint.AfterPrepareRecorded);

        await StartAsync(run);
        await CrashedAsync(run, CrashPoint.AfterPrepareRecorded);
        Assert.Equal("Preparing", await run.Probe.TransactionStatusAsync(run.Transfer.Id));
        Assert.Contains(await run.Probe.BranchRecordsAsync(), r => r.Phase == "Prepared");

        await run.Host.StartAgainAsync();
        await EndsAsync(run, "Committed");
    }

    [Fact]
    public async Task CrashInAParticipantAfterACommitIsApplied_TheAcknowledgementFollowsAfterTheRestartAndNothingIsAppliedTwice()
    {
        await using var run = await ArmAsync(CrashPoint.AfterCommitApplied);

        await StartAsync(run);
        await CrashedAsync(run, CrashPoint.AfterCommitApplied);
        Assert.Contains(await run.Probe.BranchRecordsAsync(), r => r.Phase == "Committed");

        await run.Host.StartAgainAsync();
        await EndsAsync(run, "Committed");
    }

    /// <summary>
    /// The replay case of I2: the episode that decides has sent the work items of its phase-2 activities (each records the
    /// decision before its command leaves) and dies before its history is written. The host stays down past the vote deadline, so after the restart the episode runs again with the votes
    /// and the fired deadline in whatever order the engine delivers them, while the work item it already sent may record
    /// Commit first. Whatever each side proposes, the transaction carries out the one recorded decision.
    /// </summary>
    [Fact]
    public async Task CrashInsideTheDecidingEpisode_AfterItsMessagesAreSent_TheReplayCarriesOutTheRecordedDecisionWhateverTheOrderOfEvents()
    {
        await using var run = await ArmAsync(CrashPoint.AfterEpisodeMessagesSent);

        using (await TryStartAsync(run, timeoutSeconds: 3))
        {
        }

        await CrashedAsync(run, CrashPoint.AfterEpisodeMessagesSent);
        Assert.Equal("Preparing", await run.Probe.TransactionStatusAsync(run.Transfer.Id));
        await Task.Delay(TimeSpan.FromSeconds(3));

        await run.Host.StartAgainAsync();
        var document = await run.Host.WaitForEndAsync(run.Transfer.Id, Timeout);
        var outcome = await Ledger.AssertEndedCorrectlyAsync(run.Host.Client, run.Probe, Initial, [run.Transfer], Timeout);
        var adopted = run.Host.OutputLines.Where(l => l.Contains("was already recorded", StringComparison.Ordinal)).ToList();
        output.WriteLine($"after the restart: {outcome}; {document}");
        output.WriteLine(adopted.Count == 0 ? "the replay proposed the recorded decision" : $"the replay proposed the other decision and adopted the record: {adopted[0]}");
    }

    [Fact]
    public async Task AMisspeltCrashPoint_KeepsTheHostFromStartingInsteadOfCrashingNowhere()
    {
        await using var storage = await fixture.StartStorageAsync();
        var start = HostProcess.StartAsync("A", fixture, storage, extraEnvironment: new Dictionary<string, string?>
        {
            [CrashPoints.PointVariable] = "AfterTheDecision",
        });

        var failure = await Assert.ThrowsAsync<InvalidOperationException>(() => start);
        Assert.Contains($"{CrashPoints.PointVariable} is 'AfterTheDecision'; it must be one of", failure.Message, StringComparison.Ordinal);
    }

    /// <summary>A host armed with <paramref name="point"/>, two accounts, and the transfer of 30 from alice to bob.</summary>
    /// <param name="point">Where the host kills itself.</param>
    /// <param name="queueOnly">
    /// Local delivery off (<c>TRANSACTIONS_LOCAL_DELIVERY_LEASE_SECONDS=0</c>): the activities put every command in its inbox
    /// and the participant's queue function handles it and raises its reply, for the points only that function reaches.
    /// </param>
    private async Task<Run> ArmAsync(CrashPoint point, bool queueOnly = false)
    {
        var storage = await fixture.StartStorageAsync();
        var environment = new Dictionary<string, string?>
        {
            [HostProcess.DurableLeaseSetting("controlQueueVisibilityTimeout")] = Seconds(DurableLeaseSeconds),
            [HostProcess.DurableLeaseSetting("workItemQueueVisibilityTimeout")] = Seconds(DurableLeaseSeconds),
            ["LOCALHOST_QUEUE_MESSAGE_LEASE_SECONDS"] = MessageLeaseSeconds.ToString(CultureInfo.InvariantCulture),
            ["TRANSACTIONS_LOCAL_DELIVERY_LEASE_SECONDS"] = queueOnly ? "0" : MessageLeaseSeconds.ToString(CultureInfo.InvariantCulture),
        };

        var host = await HostProcess.StartAsync("A", fixture, storage, point, extraEnvironment: environment);
        foreach (var (account, balance) in Initial)
        {
            await host.PutAccountAsync(account, balance);
        }

        return new Run(storage, host, new StorageProbe(storage.ConnectionString), new Transfer($"crash-{point}-{TestNames.UniquePrefix()}", "alice", "bob", 30), output);
    }

    private static string Seconds(int seconds) => TimeSpan.FromSeconds(seconds).ToString("c", CultureInfo.InvariantCulture);

    /// <summary>Starts the transfer; null when the host died before answering.</summary>
    private static async Task<HttpResponseMessage?> TryStartAsync(Run run, int timeoutSeconds)
    {
        try
        {
            return await run.Host.Client.PostAsJsonAsync("/api/transactions", run.Transfer.Body(timeoutSeconds));
        }
        catch (HttpRequestException)
        {
            return null;
        }
    }

    private static async Task StartAsync(Run run)
    {
        using var response = await TryStartAsync(run, timeoutSeconds: 30);
        Assert.Equal(HttpStatusCode.Accepted, response?.StatusCode);
    }

    private static async Task CrashedAsync(Run run, CrashPoint point)
    {
        var line = await run.Host.WaitForCrashAsync(Timeout);
        Assert.Contains(point.ToString(), line, StringComparison.Ordinal);
        run.Output.WriteLine($"host crashed: {line}");
    }

    /// <summary>Waits for the transfer to end with <paramref name="status"/>, then checks every invariant.</summary>
    private static async Task<System.Text.Json.JsonElement> EndsAsync(Run run, string status)
    {
        var document = await run.Host.WaitForEndAsync(run.Transfer.Id, Timeout);
        Assert.True(document.GetProperty("status").GetString() == status, $"expected {status}: {document}\n{run.Host.RecentOutput}");
        var outcome = await Ledger.AssertEndedCorrectlyAsync(run.Host.Client, run.Probe, Initial, [run.Transfer], Timeout);
        run.Output.WriteLine($"after the restart: {outcome}; {document}");
        return document;
    }

    private sealed record Run(AzuriteInstance Storage, HostProcess Host, StorageProbe Probe, Transfer Transfer, ITestOutputHelper Output) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            await Host.DisposeAsync();
            await Storage.DisposeAsync();
        }
    }
}
