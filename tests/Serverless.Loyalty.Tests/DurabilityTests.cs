using System.Net;
using System.Text;
using Serverless.Core.Participants;
using Serverless.Core.Protocol;
using Serverless.Testing;

namespace Serverless.Loyalty.Tests;

/// <summary>Each test here starts, kills (SIGKILL) and restarts a service of its own on the same journal.</summary>
public sealed class DurabilityTests : IAsyncLifetime
{
    private LoyaltyServer _server = null!;

    public async Task InitializeAsync() => _server = await LoyaltyServer.StartAsync(Keys.Loyalty);

    public async Task DisposeAsync() => await _server.DisposeAsync();

    [Fact]
    public async Task KilledAndRestarted_KeepsBalancesAndEveryBranchsRecord()
    {
        var customer = Wire.NewCustomer();
        var (confirmed, pending, cancelled, cancelledFirst, refused) = (Wire.NewTx(), Wire.NewTx(), Wire.NewTx(), Wire.NewTx(), Wire.NewTx());
        await _server.TryAsync(confirmed, 0, Wire.Award(customer, 10));
        await _server.ConfirmAsync(confirmed, 0, Wire.Award(customer, 10));
        var pendingYes = await _server.TryAsync(pending, 0, Wire.Award(customer, 4));
        await _server.TryAsync(cancelled, 0, Wire.Award(customer, 2));
        await _server.CancelAsync(cancelled, 0, Wire.Award(customer, 2));
        await _server.CancelAsync(cancelledFirst, 0, Wire.Award(customer, 8));
        var refusedNo = await _server.TryAsync(refused, 0, Wire.Award(customer, 0));

        await _server.KillAsync();
        await _server.RestartAsync();

        Assert.Equal((10, 4), await _server.BalanceAsync(customer));
        Assert.Equal(pendingYes.Text, (await _server.TryAsync(pending, 0, Wire.Award(customer, 4))).Text);
        Assert.Equal(refusedNo.Text, (await _server.TryAsync(refused, 0, Wire.Award(customer, 0))).Text);
        var late = (await _server.TryAsync(cancelledFirst, 0, Wire.Award(customer, 8))).Reply();
        Assert.Equal((Vote.No, ParticipantProtocol.RolledBackBeforePrepare), (late.Vote, late.Reason));
        Assert.Equal(HttpStatusCode.Conflict, (await _server.CancelAsync(confirmed, 0, Wire.Award(customer, 10))).Status);
        Assert.Equal(HttpStatusCode.Conflict, (await _server.ConfirmAsync(cancelled, 0, Wire.Award(customer, 2))).Status);
        Assert.Equal((10, 4), await _server.BalanceAsync(customer));

        // The promise of the Yes vote is kept across the crash: the pending award can still be confirmed.
        Assert.Equal(BranchOutcome.Committed, (await _server.ConfirmAsync(pending, 0, Wire.Award(customer, 4))).Reply().Outcome);
        Assert.Equal((14, 0), await _server.BalanceAsync(customer));
    }

    [Fact]
    public async Task EveryAnsweredCommand_IsOnDiskBeforeItsAnswer()
    {
        var customer = Wire.NewCustomer();
        var txs = Enumerable.Range(0, 20).Select(_ => Wire.NewTx()).ToList();

        // Kill right after the last answer: nothing may be waiting in a buffer.
        await Task.WhenAll(txs.Select(tx => _server.TryAsync(tx, 1, Wire.Award(customer, 1))));
        await _server.KillAsync();
        await _server.RestartAsync();

        Assert.Equal((0, 20), await _server.BalanceAsync(customer));
        Assert.Equal(20, _server.JournalLines());
    }

    [Fact]
    public async Task TornLastJournalLine_IsIgnoredAndLaterChangesLast()
    {
        var (tx, torn, later, customer) = (Wire.NewTx(), Wire.NewTx(), Wire.NewTx(), Wire.NewCustomer());
        await _server.TryAsync(tx, 0, Wire.Award(customer, 10));
        await _server.KillAsync();

        // A crash in the middle of appending a Try: the line has neither its end nor its newline. It is longer than the
        // lines appended later, so that a journal that only wrote over it (without cutting it off) would show its tail.
        var longName = new string('x', 600);
        await File.AppendAllTextAsync(
            _server.JournalPath, $$"""{"tx":"{{torn}}","branch":0,"record":{"phase":"Prepared","vote":"Yes","customer":"{{longName}}""", Encoding.UTF8);
        await _server.RestartAsync();

        Assert.Contains("ignored and cut off", await _server.WaitForOutputAsync("torn"), StringComparison.Ordinal);
        Assert.Equal((0, 10), await _server.BalanceAsync(customer));
        // The torn Try was never answered, so it never happened: the branch is unknown, and a real Try of it works.
        Assert.Equal(HttpStatusCode.Conflict, (await _server.ConfirmAsync(torn, 0, Wire.Award(customer, 5))).Status);

        // The torn line was cut off, so what is appended after it survives the next restart.
        await _server.TryAsync(later, 0, Wire.Award(customer, 5));
        await _server.ConfirmAsync(tx, 0, Wire.Award(customer, 10));
        await _server.KillAsync();
        await _server.RestartAsync();

        await _server.WaitForOutputAsync("listening on"); // written after any word about a torn line
        Assert.DoesNotContain("torn", _server.Output, StringComparison.Ordinal);
        Assert.Equal((10, 5), await _server.BalanceAsync(customer));
    }

    [Fact]
    public async Task LastLineWithoutItsNewline_IsKeptAndLaterLinesStartOnTheirOwn()
    {
        var (first, second, customer) = (Wire.NewTx(), Wire.NewTx(), Wire.NewCustomer());
        await _server.TryAsync(first, 0, Wire.Award(customer, 3));
        await _server.KillAsync();
        var text = await File.ReadAllTextAsync(_server.JournalPath);
        await File.WriteAllTextAsync(_server.JournalPath, text.TrimEnd('\n'));

        await _server.RestartAsync();
        await _server.TryAsync(second, 0, Wire.Award(customer, 4));
        await _server.RestartAsync();

        Assert.Equal((0, 7), await _server.BalanceAsync(customer));
    }

    [Fact]
    public async Task DamagedLineBeforeTheLast_RefusesToStartRatherThanForgetHistory()
    {
        var (first, second, customer) = (Wire.NewTx(), Wire.NewTx(), Wire.NewCustomer());
        await _server.TryAsync(first, 0, Wire.Award(customer, 3));
        await _server.TryAsync(second, 0, Wire.Award(customer, 4));
        await _server.KillAsync();
        var lines = await File.ReadAllLinesAsync(_server.JournalPath);
        lines[0] = lines[0][..10];
        await File.WriteAllLinesAsync(_server.JournalPath, lines);

        var failed = await Assert.ThrowsAsync<InvalidOperationException>(() => _server.RestartAsync());

        Assert.Contains("line 1 is not a journal entry", failed.Message, StringComparison.Ordinal);
    }
}
