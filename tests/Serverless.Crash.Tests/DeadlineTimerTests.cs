using System.Net;
using System.Net.Http.Json;
using Serverless.Testing;

namespace Serverless.Crash.Tests;

/// <summary>
/// I7 and I8 for the vote deadline: a Durable timer outlives the host that set it. The host is killed (SIGKILL) after a
/// branch is prepared and before the deadline, and is down when the deadline passes; started again, the orchestration's
/// own timer decides Abort and the hold is released.
/// </summary>
public sealed class DeadlineTimerTests(HostFixture fixture, ITestOutputHelper output) : IClassFixture<HostFixture>
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(90);

    [Fact]
    public async Task AVoteDeadline_FiresAfterTheHostWasKilledBeforeIt_AndTheHoldIsReleased()
    {
        // "ghost" may be named but runs nowhere: the transaction can only end by its deadline.
        await using var storage = await fixture.StartStorageAsync();
        await using var host = await HostProcess.StartAsync("A", fixture, storage, extraEnvironment: new Dictionary<string, string?>
        {
            ["TRANSACTIONS_PARTICIPANTS"] = "bank,ghost",
        });
        await host.PutAccountAsync("alice", 100);
        var probe = new StorageProbe(storage.ConnectionString);
        var id = $"deadline-{TestNames.UniquePrefix()}";
        using var response = await host.Client.PostAsJsonAsync("/api/transactions", new
        {
            transactionId = id,
            timeoutSeconds = 4,
            participants = new object[]
            {
                new { participant = "bank", operation = new { type = "debit", account = "alice", amount = 30 } },
                new { participant = "ghost", operation = new { anything = true } },
            },
        });
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var deadline = DateTimeOffset.UtcNow.AddSeconds(4);

        await Eventually.WaitAsync(async () => (await probe.BranchRecordsAsync()).Any(r => r is { Branch: 0, Phase: "Prepared" }), Timeout, "the bank branch prepared");
        Assert.True(DateTimeOffset.UtcNow < deadline, "the branch was prepared only after the deadline; the host is too slow for this test");
        await host.KillAsync();
        Assert.Equal((100, 30), (await probe.AccountsAsync())["alice"]);
        await Eventually.WaitAsync(() => Task.FromResult(DateTimeOffset.UtcNow > deadline.AddSeconds(1)), TimeSpan.FromSeconds(10), "the deadline to pass while the host is down");
        Assert.False((await probe.DecisionsAsync()).ContainsKey(id), "decided while the host was down");

        Assert.True(await host.StartAgainAsync(), "the host came back");

        var status = await host.WaitForDecisionAsync(id, Timeout);
        output.WriteLine(status.ToString());
        Assert.Equal("Abort", status.GetProperty("decision").GetString());
        Assert.Contains("deadline", status.GetProperty("reason").GetString(), StringComparison.Ordinal);
        await Eventually.WaitAsync(async () => (await probe.AccountsAsync())["alice"] == (100, 0), Timeout, "the hold released");
        Assert.Equal("Abort", (await probe.DecisionsAsync())[id]);
        Assert.Contains(await probe.BranchRecordsAsync(), r => r is { TransactionId: var t, Branch: 0, Phase: "RolledBack" } && t == id);
    }
}
