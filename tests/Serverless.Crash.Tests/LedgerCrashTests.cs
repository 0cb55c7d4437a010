using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Serverless.Functions.Faults;
using Serverless.Testing;

namespace Serverless.Crash.Tests;

/// <summary>
/// The host running the <c>ledger</c> participant (MySQL XA, here MariaDB) is killed (SIGKILL) between <c>XA PREPARE</c> and
/// its vote, and between the decision and <c>XA COMMIT</c>; the prepared XA branches outlive the process in the server, and
/// after the restart the redelivered commands finish them. Money is conserved, nothing is applied twice, and XA RECOVER
/// shows no branch of ours at the end.
/// </summary>
[Collection(MariaDbCollection.Name)]
public sealed class LedgerCrashTests(HostFixture fixture, MariaDbServer mariaDb, ITestOutputHelper output) : IClassFixture<HostFixture>
{
    private const int DurableLeaseSeconds = 5;
    private const int MessageLeaseSeconds = 3;
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(90);

    [Fact]
    public async Task KilledBetweenXaPrepareAndTheVote_TheBranchStaysPreparedInMySql_AndTheRedeliveredPrepareVotesYesAgain()
    {
        await using var run = await ArmAsync(CrashPoint.AfterPrepareRecorded);

        await StartAsync(run, LedgerTransfer(run));
        await CrashedAsync(run, CrashPoint.AfterPrepareRecorded);
        Assert.NotEmpty(await PreparedAsync(run));

        await run.Host.StartAgainAsync();
        await EndsAsync(run, "Committed");
        Assert.Equal((70L, 40L), (await BalanceAsync(run, run.From), await BalanceAsync(run, run.To)));
    }

    [Fact]
    public async Task KilledBetweenTheDecisionAndXaCommit_BothBranchesStayPrepared_AndCommitAfterTheRestart()
    {
        await using var run = await ArmAsync(CrashPoint.AfterDecisionRecorded);

        await StartAsync(run, LedgerTransfer(run));
        await CrashedAsync(run, CrashPoint.AfterDecisionRecorded);
        Assert.Equal("Commit", (await run.Probe.DecisionsAsync())[run.Id]);
        Assert.Equal(2, (await PreparedAsync(run)).Count);
        Assert.Equal((100L, 10L), (await DirectBalanceAsync(run, run.From), await DirectBalanceAsync(run, run.To)));

        await run.Host.StartAgainAsync();
        await EndsAsync(run, "Committed");
        Assert.Equal((70L, 40L), (await BalanceAsync(run, run.From), await BalanceAsync(run, run.To)));
    }

    [Fact]
    public async Task KilledAfterOneXaCommit_TheOtherBranchCommitsAfterTheRestart_AndNothingIsAppliedTwice()
    {
        await using var run = await ArmAsync(CrashPoint.AfterCommitApplied);

        await StartAsync(run, LedgerTransfer(run));
        await CrashedAsync(run, CrashPoint.AfterCommitApplied);

        await run.Host.StartAgainAsync();
        await EndsAsync(run, "Committed");
        Assert.Equal((70L, 40L), (await BalanceAsync(run, run.From), await BalanceAsync(run, run.To)));
    }

    [Fact]
    public async Task KilledBetweenXaPrepareAndTheVote_OfATransferTheBankRefuses_TheLedgerBranchIsRolledBackAfterTheRestart()
    {
        await using var run = await ArmAsync(CrashPoint.AfterPrepareRecorded);

        // The bank votes No (no such account), so the ledger's is the only Yes and the host dies right after its XA PREPARE.
        var body = new
        {
            transactionId = run.Id,
            timeoutSeconds = 60,
            participants = new object[]
            {
                new { participant = "ledger", operation = new { type = "debit", account = run.From, amount = 30 } },
                new { participant = "bank", operation = new { type = "credit", account = "nobody", amount = 30 } },
            },
        };
        await StartAsync(run, body);
        await CrashedAsync(run, CrashPoint.AfterPrepareRecorded);
        Assert.Single(await PreparedAsync(run));

        await run.Host.StartAgainAsync();
        await EndsAsync(run, "Aborted");
        Assert.Equal(100L, await BalanceAsync(run, run.From));
    }

    private static object LedgerTransfer(Run run) => new
    {
        transactionId = run.Id,
        timeoutSeconds = 60,
        participants = new object[]
        {
            new { participant = "ledger", operation = new { type = "debit", account = run.From, amount = 30 } },
            new { participant = "ledger", operation = new { type = "credit", account = run.To, amount = 30 } },
        },
    };

    /// <summary>A host armed with <paramref name="point"/> running the ledger on a database of its own, with accounts from (100) and to (10).</summary>
    private async Task<Run> ArmAsync(CrashPoint point)
    {
        var database = await mariaDb.DatabaseAsync($"{nameof(LedgerCrashTests)}{point}");
        var storage = await fixture.StartStorageAsync();
        var host = await HostProcess.StartAsync("A", fixture, storage, point, extraEnvironment: new Dictionary<string, string?>
        {
            [HostProcess.DurableLeaseSetting("controlQueueVisibilityTimeout")] = Seconds(DurableLeaseSeconds),
            [HostProcess.DurableLeaseSetting("workItemQueueVisibilityTimeout")] = Seconds(DurableLeaseSeconds),
            ["LOCALHOST_QUEUE_MESSAGE_LEASE_SECONDS"] = MessageLeaseSeconds.ToString(CultureInfo.InvariantCulture),
            ["TRANSACTIONS_LOCAL_DELIVERY_LEASE_SECONDS"] = MessageLeaseSeconds.ToString(CultureInfo.InvariantCulture),
            ["TRANSACTIONS_PARTICIPANTS"] = "bank,ledger",
            ["LEDGER_MYSQL_CONNECTION"] = database,
            ["AzureWebJobs.LedgerParticipant.Disabled"] = "false",
        });
        var run = new Run(storage, host, new StorageProbe(storage.ConnectionString), database, $"ledger-crash-{point}-{TestNames.UniquePrefix()}", "alice", "bob", output);
        foreach (var (account, balance) in new[] { (run.From, 100L), (run.To, 10L) })
        {
            using var response = await host.Client.PutAsJsonAsync($"/api/ledger/accounts/{account}", new { balance });
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        return run;
    }

    private static string Seconds(int seconds) => TimeSpan.FromSeconds(seconds).ToString("c", CultureInfo.InvariantCulture);

    private static async Task StartAsync(Run run, object body)
    {
        using var response = await run.Host.Client.PostAsJsonAsync("/api/transactions", body);
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
    }

    private static async Task CrashedAsync(Run run, CrashPoint point)
    {
        var line = await run.Host.WaitForCrashAsync(Timeout);
        Assert.Contains(point.ToString(), line, StringComparison.Ordinal);
        run.Output.WriteLine($"host crashed: {line}");
    }

    /// <summary>Waits for the end, then: the status, no prepared XA branch left, no poison message, the orchestration Completed.</summary>
    private static async Task EndsAsync(Run run, string status)
    {
        var document = await run.Host.WaitForEndAsync(run.Id, Timeout);
        Assert.True(document.GetProperty("status").GetString() == status, $"expected {status}: {document}\n{run.Host.RecentOutput}");
        await Eventually.WaitAsync(async () => (await PreparedAsync(run)).Count == 0, Timeout, "XA RECOVER to show no branch of ours");
        await Eventually.WaitAsync(async () => (await run.Probe.InstanceStatusesAsync()).GetValueOrDefault(run.Id) == "Completed", Timeout, "the orchestration to complete");
        Assert.Empty(await run.Probe.PoisonMessagesAsync());
        run.Output.WriteLine($"after the restart: {document}");
    }

    private static async Task<long> BalanceAsync(Run run, string account) =>
        (await run.Host.Client.GetFromJsonAsync<JsonElement>($"/api/ledger/accounts/{account}")).GetProperty("balance").GetInt64();

    /// <summary>The committed balance read from the database itself (the host may be down).</summary>
    private static async Task<long> DirectBalanceAsync(Run run, string account)
    {
        await using var connection = new MySqlConnector.MySqlConnection(run.Database);
        await connection.OpenAsync();
        await using var command = new MySqlConnector.MySqlCommand("SELECT balance FROM ledger_accounts WHERE account = @a", connection);
        command.Parameters.AddWithValue("@a", account);
        return (long)(await command.ExecuteScalarAsync())!;
    }

    /// <summary>The transaction's prepared XA branches (XA RECOVER).</summary>
    private static async Task<List<string>> PreparedAsync(Run run) =>
        [.. (await MariaDbServer.PreparedXidsAsync(run.Database)).Where(x => x.Contains($":{run.Id}:", StringComparison.Ordinal))];

    private sealed record Run(AzuriteInstance Storage, HostProcess Host, StorageProbe Probe, string Database, string Id, string From, string To, ITestOutputHelper Output) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            await Host.DisposeAsync();
            await Storage.DisposeAsync();
        }
    }
}
