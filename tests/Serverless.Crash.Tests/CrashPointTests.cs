using System.Net;
using System.Net.Http.Json;
using Serverless.Testing;

namespace Serverless.Crash.Tests;

/// <summary>
/// The host kills itself (SIGKILL) at one step of one transfer, is started again without the crash point, and the
/// transfer still ends correctly: I1 (all or nothing, at the coordinator and at the participant), I7 (it ends) and
/// I8 (no decision lost, no amount left held, nothing applied twice, no poison message).
/// </summary>
/// <remarks>Switched off: <see cref="CrashPoints.Gone"/> Kept as they were, so that the re-mapping starts from them.</remarks>
public sealed class CrashPointTests(HostFixture fixture, ITestOutputHelper output) : IClassFixture<HostFixture>
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);
    private static readonly Dictionary<string, long> Initial = new(StringComparer.Ordinal) { ["alice"] = 100, ["bob"] = 10 };

    [Fact(Skip = CrashPoints.Gone)]
    public async Task CrashAfterTheRecordIsWritten_ARetriedStartAfterTheRestartCommitsTheTransfer()
    {
        await using var run = await ArmAsync(CrashPoint.AfterTransactionRecorded);

        Assert.Null(await TryStartAsync(run, timeoutSeconds: 30));
        await CrashedAsync(run, CrashPoint.AfterTransactionRecorded);
        Assert.Equal("Preparing", await run.Probe.TransactionStatusAsync(run.Transfer.Id));
        Assert.Empty(await run.Probe.BranchRecordsAsync());

        await run.Host.StartAgainAsync();
        using var retried = await TryStartAsync(run, timeoutSeconds: 30);
        Assert.True(retried?.StatusCode is HttpStatusCode.Accepted or HttpStatusCode.OK, $"retried start answered {retried?.StatusCode}");

        await EndsAsync(run, "Committed");
    }

    [Fact(Skip = CrashPoints.Gone)]
    public async Task CrashAfterTheRecordIsWritten_WithoutARetryTheDeadlineAbortsTheTransferAfterTheRestart()
    {
        await using var run = await ArmAsync(CrashPoint.AfterTransactionRecorded);

        Assert.Null(await TryStartAsync(run, timeoutSeconds: 3));
        await CrashedAsync(run, CrashPoint.AfterTransactionRecorded);
        await run.Host.StartAgainAsync();

        var status = await EndsAsync(run, "Aborted");
        Assert.Contains("deadline", status.GetProperty("reason").GetString(), StringComparison.Ordinal);
    }

    [Fact(Skip = CrashPoints.Gone)]
    public async Task CrashBetweenPrepareSends_TheDeadlineAbortsTheTransferAfterTheRestartAndReleasesTheHold()
    {
        await using var run = await ArmAsync(CrashPoint.BetweenPrepareSends);

        Assert.Null(await TryStartAsync(run, timeoutSeconds: 3));
        await CrashedAsync(run, CrashPoint.BetweenPrepareSends);
        Assert.Equal("Preparing", await run.Probe.TransactionStatusAsync(run.Transfer.Id));

        // Only the debit's prepare went out: the restarted participant holds the amount until the deadline aborts.
        await run.Host.StartAgainAsync();
        var status = await EndsAsync(run, "Aborted");
        Assert.Contains("deadline passed without a vote from 'bank'", status.GetProperty("reason").GetString(), StringComparison.Ordinal);
        Assert.Contains(await run.Probe.BranchRecordsAsync(), r => r is { Branch: 0, Phase: "RolledBack" });
    }

    [Fact(Skip = CrashPoints.Gone)]
    public async Task CrashAfterTheDecisionIsWritten_TheRedeliveredPrepareRepeatsItsVoteAndBothBranchesCommitAfterTheRestart()
    {
        await using var run = await ArmAsync(CrashPoint.AfterDecisionRecorded);

        await StartAsync(run);
        await CrashedAsync(run, CrashPoint.AfterDecisionRecorded);
        Assert.Equal("Committing", await run.Probe.TransactionStatusAsync(run.Transfer.Id));
        Assert.All(await run.Probe.BranchRecordsAsync(), r => Assert.Equal("Prepared", r.Phase));

        await run.Host.StartAgainAsync();
        await EndsAsync(run, "Committed");
    }

    [Fact(Skip = CrashPoints.Gone)]
    public async Task CrashBetweenPhase2Sends_TheCommitReachesEveryBranchAfterTheRestart()
    {
        await using var run = await ArmAsync(CrashPoint.BetweenPhase2Sends);

        await StartAsync(run);
        await CrashedAsync(run, CrashPoint.BetweenPhase2Sends);
        Assert.Equal("Committing", await run.Probe.TransactionStatusAsync(run.Transfer.Id));

        await run.Host.StartAgainAsync();
        await EndsAsync(run, "Committed");
    }

    [Fact(Skip = CrashPoints.Gone)]
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

    [Fact(Skip = CrashPoints.Gone)]
    public async Task CrashInAParticipantAfterACommitIsApplied_TheAcknowledgementFollowsAfterTheRestartAndNothingIsAppliedTwice()
    {
        await using var run = await ArmAsync(CrashPoint.AfterCommitApplied);

        await StartAsync(run);
        await CrashedAsync(run, CrashPoint.AfterCommitApplied);
        Assert.Equal("Committing", await run.Probe.TransactionStatusAsync(run.Transfer.Id));
        Assert.Contains(await run.Probe.BranchRecordsAsync(), r => r.Phase == "Committed");

        await run.Host.StartAgainAsync();
        await EndsAsync(run, "Committed");
    }

    [Fact(Skip = CrashPoints.Gone)]
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
    private async Task<Run> ArmAsync(CrashPoint point)
    {
        var storage = await fixture.StartStorageAsync();
        var host = await HostProcess.StartAsync("A", fixture, storage, point);
        foreach (var (account, balance) in Initial)
        {
            await host.PutAccountAsync(account, balance);
        }

        return new Run(storage, host, new StorageProbe(storage.ConnectionString), new Transfer($"crash-{point}-{TestNames.UniquePrefix()}", "alice", "bob", 30), output);
    }

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
