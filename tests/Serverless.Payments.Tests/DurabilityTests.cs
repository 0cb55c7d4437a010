using System.Net;
using System.Text;
using Serverless.Testing;

namespace Serverless.Payments.Tests;

/// <summary>Each test here starts, kills and restarts a service of its own.</summary>
public sealed class DurabilityTests : IAsyncLifetime
{
    private PaymentsServer _server = null!;

    public async Task InitializeAsync() => _server = await PaymentsServer.StartAsync();

    public async Task DisposeAsync() => await _server.DisposeAsync();

    [Fact]
    public async Task KilledAndRestarted_KeepsBalancesAndRecords()
    {
        await _server.SetBalanceAsync("alice", 100);
        await _server.SetBalanceAsync("bob", 50);
        await _server.Client.ChargeAsync("k-charged", "alice", 30);
        await _server.Client.ChargeAsync("k-refunded", "bob", 20);
        await _server.Client.RefundAsync("k-refunded");
        await _server.Client.ChargeAsync("k-declined", "bob", 500);
        await _server.Client.RefundAsync("k-voided");
        var before = await SnapshotAsync();

        await _server.KillAsync();
        await _server.RestartAsync();

        Assert.Equal(before, await SnapshotAsync());
        Assert.Equal(70, await _server.BalanceAsync("alice"));
        Assert.Equal(50, await _server.BalanceAsync("bob"));
        Assert.Equal(HttpStatusCode.OK, (await _server.Client.ChargeAsync("k-charged", "alice", 30)).Status);
        Assert.Equal(HttpStatusCode.PaymentRequired, (await _server.Client.ChargeAsync("k-voided", "alice", 1)).Status);
        Assert.Equal(70, await _server.BalanceAsync("alice"));
    }

    [Fact]
    public async Task TornLastJournalLine_IsIgnoredAndLaterChangesLast()
    {
        await _server.SetBalanceAsync("alice", 100);
        await _server.Client.ChargeAsync("k1", "alice", 10);
        await _server.KillAsync();

        // A crash in the middle of appending a charge: the line has neither its end nor its newline.
        await File.AppendAllTextAsync(_server.JournalPath, """{"op":"charge","account":"alice","key":"k-torn","amo""", Encoding.UTF8);
        await _server.RestartAsync();

        Assert.Equal(90, await _server.BalanceAsync("alice"));
        Assert.Equal(HttpStatusCode.NotFound, (await _server.Client.ReadAsync("/charges/k-torn")).Status);
        Assert.Contains("torn", _server.Output, StringComparison.Ordinal);

        // The torn line was cut off, so what is appended after it survives the next restart.
        Assert.Equal(HttpStatusCode.Created, (await _server.Client.ChargeAsync("k2", "alice", 5)).Status);
        await _server.RestartAsync();
        Assert.Equal(85, await _server.BalanceAsync("alice"));
        Assert.Equal("charged", (await _server.Client.ReadAsync("/charges/k2")).Text("status"));
    }

    [Fact]
    public async Task WithoutADataDirectory_TheServiceRefusesToStart()
    {
        await using var process = ChildProcess.Start(
            "dotnet", [PaymentsServer.DllPath, "--urls", $"http://127.0.0.1:{FreePort.Get()}"], environment: new Dictionary<string, string?>
            {
                ["PAYMENTS_DATA_DIR"] = null,
                [PaymentsServer.ApiKeySetting] = _server.ApiKey,
            });

        Assert.True(await process.WaitForExitAsync(TimeSpan.FromSeconds(30)), "the service kept running without PAYMENTS_DATA_DIR");
        Assert.NotEqual(0, process.ExitCode);
        Assert.Contains("PAYMENTS_DATA_DIR is not set", process.Output, StringComparison.Ordinal);
    }

    private async Task<string> SnapshotAsync()
    {
        var accounts = await _server.Client.ReadAsync("/accounts");
        var charges = new List<string>();
        foreach (var key in new[] { "k-charged", "k-refunded", "k-declined", "k-voided" })
        {
            charges.Add((await _server.Client.ReadAsync($"/charges/{key}")).Body.ToString());
        }

        return $"{accounts.Body}\n{string.Join('\n', charges)}";
    }
}
