using System.Net.Http.Json;
using System.Text.Json;
using Serverless.Testing;

namespace Serverless.Crash.Tests;

/// <summary>A transfer between two bank accounts: a debit branch (0) and a credit branch (1).</summary>
public sealed record Transfer(string Id, string From, string To, long Amount)
{
    /// <summary>The vote deadline the start request asks for. Default 30 s.</summary>
    public int TimeoutSeconds { get; init; } = 30;

    /// <summary>The branches of the start request, when they are not the bank transfer of <see cref="Amount"/> from <see cref="From"/> to <see cref="To"/>.</summary>
    public IReadOnlyList<object>? Branches { get; init; }

    public object Body() => Body(TimeoutSeconds);

    public object Body(int timeoutSeconds) => new
    {
        transactionId = Id,
        timeoutSeconds,
        participants = Branches ?? new object[]
        {
            new { participant = "bank", operation = new { type = "debit", account = From, amount = Amount } },
            new { participant = "bank", operation = new { type = "credit", account = To, amount = Amount } },
        },
    };
}

/// <summary>How a set of transfers ended.</summary>
public sealed record LedgerOutcome(int Committed, int Aborted, IReadOnlyDictionary<string, int> AbortReasons)
{
    public override string ToString() =>
        $"{Committed} committed, {Aborted} aborted ({string.Join(", ", AbortReasons.Select(r => $"{r.Value} {r.Key}"))})";
}

/// <summary>The end-state checks every crash test makes: I1 (atomicity), I7 (everything ended), I8 (nothing lost or leaked).</summary>
public static class Ledger
{
    /// <summary>
    /// Waits until every transfer has ended, then checks: each status is self-consistent; its decision record says the
    /// same; the participant's records agree with it branch by branch (all committed, or none, and nothing left prepared); no amount is held; every
    /// balance is exactly the initial one plus the committed transfers; money is conserved; no poison message.
    /// </summary>
    public static async Task<LedgerOutcome> AssertEndedCorrectlyAsync(
        HttpClient client, StorageProbe probe, IReadOnlyDictionary<string, long> initial, IReadOnlyList<Transfer> transfers, TimeSpan timeout)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentNullException.ThrowIfNull(probe);
        ArgumentNullException.ThrowIfNull(initial);
        ArgumentNullException.ThrowIfNull(transfers);
        var statuses = await WaitForAllToEndAsync(client, transfers, timeout);

        // I1 as the coordinator records it.
        foreach (var t in transfers)
        {
            var doc = statuses[t.Id];
            var status = doc.GetProperty("status").GetString();
            var branches = doc.GetProperty("participants").EnumerateArray().ToList();
            Assert.Equal(2, branches.Count);
            if (status == "Committed")
            {
                Assert.Equal("Commit", doc.GetProperty("decision").GetString());
                Assert.All(branches, b => Assert.Equal("Yes", b.GetProperty("vote").GetString()));
                Assert.All(branches, b => Assert.Equal("Committed", b.GetProperty("outcome").GetString()));
            }
            else
            {
                Assert.Equal("Abort", doc.GetProperty("decision").GetString());
                Assert.All(branches, b => Assert.NotEqual("Committed", b.GetProperty("outcome").GetString()));
            }
        }

        // I2: one durable decision per transaction, the one its status shows.
        var decisions = await probe.DecisionsAsync();
        foreach (var t in transfers)
        {
            Assert.True(decisions.TryGetValue(t.Id, out var decision), $"transaction {t.Id} ended without a decision record");
            Assert.Equal(statuses[t.Id].GetProperty("decision").GetString(), decision);
        }

        // I1 and I8 as the participant recorded them: all or nothing, and nothing left reserved.
        var records = (await probe.BranchRecordsAsync()).ToLookup(r => r.TransactionId, StringComparer.Ordinal);
        var known = transfers.Select(t => t.Id).ToHashSet(StringComparer.Ordinal);
        Assert.All(records, g => Assert.Contains(g.Key, known));
        foreach (var t in transfers)
        {
            var rows = records[t.Id].ToList();
            Assert.Equal(rows.Count, rows.Select(r => r.Branch).Distinct().Count());
            if (statuses[t.Id].GetProperty("status").GetString() == "Committed")
            {
                Assert.Equal([(0, t.From, "Committed"), (1, t.To, "Committed")], rows.OrderBy(r => r.Branch).Select(r => (r.Branch, r.Account, r.Phase)));
            }
            else
            {
                Assert.All(rows, r => Assert.True(r.Phase is "RolledBack" or "Refused", $"aborted transaction {t.Id}: branch {r.Branch} is {r.Phase}"));
            }
        }

        // The money: exactly the committed transfers, conserved, nothing held.
        var expected = new Dictionary<string, long>(initial, StringComparer.Ordinal);
        var committed = transfers.Where(t => statuses[t.Id].GetProperty("status").GetString() == "Committed").ToList();
        foreach (var t in committed)
        {
            expected[t.From] -= t.Amount;
            expected[t.To] += t.Amount;
        }

        var accounts = await probe.AccountsAsync();
        Assert.Equal(expected.Keys.Order(), accounts.Keys.Order());
        foreach (var (account, balance) in expected)
        {
            Assert.True(accounts[account] == (balance, 0), $"account {account}: expected balance {balance} held 0, found {accounts[account]}");
        }

        Assert.Equal(initial.Values.Sum(), accounts.Values.Sum(a => a.Balance));

        // I7 as Durable records it: every orchestration returned; none is left Running, Pending or Failed. (The status can be
        // final a moment before the episode that published it is committed as Completed.)
        var unfinished = await Eventually.WaitAsync(
            async () => string.Join(", ", (await probe.InstanceStatusesAsync()).Where(i => i.Value != "Completed").Select(i => $"{i.Key} {i.Value}")),
            none => none.Length == 0,
            TimeSpan.FromSeconds(30),
            "every orchestration to be Completed (the last value lists those that are not)");
        Assert.Empty(unfinished);

        var poison = await probe.PoisonMessagesAsync();
        Assert.True(poison.Count == 0, $"poison messages:\n{string.Join('\n', poison)}");

        var reasons = transfers.Where(t => statuses[t.Id].GetProperty("status").GetString() == "Aborted")
            .GroupBy(t => ReasonKind(statuses[t.Id].GetProperty("reason").GetString()))
            .ToDictionary(g => g.Key, g => g.Count(), StringComparer.Ordinal);
        return new LedgerOutcome(committed.Count, transfers.Count - committed.Count, reasons);
    }

    /// <summary>Every transfer's status document once all have ended (read through the list API, a page at a time).</summary>
    public static async Task<IReadOnlyDictionary<string, JsonElement>> WaitForAllToEndAsync(HttpClient client, IReadOnlyList<Transfer> transfers, TimeSpan timeout)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentNullException.ThrowIfNull(transfers);
        Dictionary<string, JsonElement> last = [];
        var pending = 0;
        await Eventually.WaitAsync(
            async () =>
            {
                last = await ListAllAsync(client);
                pending = transfers.Count(t => !last.TryGetValue(t.Id, out var d) || d.GetProperty("status").GetString() is not ("Committed" or "Aborted"));
                if (pending > 0)
                {
                    // Listing every transaction is not free; do not hammer the host that is finishing them.
                    await Task.Delay(200);
                }

                return pending == 0;
            },
            timeout,
            $"all {transfers.Count} transactions to end");
        return last;
    }

    private static async Task<Dictionary<string, JsonElement>> ListAllAsync(HttpClient client)
    {
        var all = new Dictionary<string, JsonElement>(StringComparer.Ordinal);
        string? token = null;
        do
        {
            var url = token is null ? "/api/transactions?top=1000" : $"/api/transactions?top=1000&continuationToken={Uri.EscapeDataString(token)}";
            var page = await client.GetFromJsonAsync<JsonElement>(url);
            foreach (var item in page.GetProperty("items").EnumerateArray())
            {
                all[item.GetProperty("id").GetString()!] = item.Clone();
            }

            token = page.GetProperty("continuationToken").GetString();
        }
        while (token is not null);
        return all;
    }

    private static string ReasonKind(string? reason) => reason switch
    {
        null => "without reason",
        _ when reason.Contains("insufficient funds", StringComparison.Ordinal) => "insufficient funds",
        _ when reason.Contains("deadline", StringComparison.Ordinal) => "vote deadline",
        _ when reason.Contains("abort requested", StringComparison.Ordinal) => "abort requested",
        _ => reason,
    };
}
