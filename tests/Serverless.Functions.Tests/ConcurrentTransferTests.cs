using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Serverless.Testing;

namespace Serverless.Functions.Tests;

/// <summary>Many transfers at once among a few accounts: every transaction ends, money is exactly conserved, nothing stays held.</summary>
public sealed class ConcurrentTransferTests(HostFixture fixture) : IClassFixture<HostFixture>
{
    private const int Transfers = 50;

    [Fact]
    public async Task FiftyConcurrentTransfers_AllEnd_ConserveMoney_AndLeaveBalancesEqualToTheCommittedTransfers()
    {
        var host = fixture.Host;
        var accounts = Enumerable.Range(0, 4).Select(i => TestHost.Id($"acct{i}")).ToArray();
        var initial = new Dictionary<string, long> { [accounts[0]] = 100, [accounts[1]] = 50, [accounts[2]] = 20, [accounts[3]] = 0 };
        foreach (var (account, balance) in initial)
        {
            Assert.Equal(HttpStatusCode.OK, (await host.PutAccountAsync(account, balance)).StatusCode);
        }

        var random = new Random(1234);
        var transfers = Enumerable.Range(0, Transfers).Select(i =>
        {
            var from = accounts[random.Next(accounts.Length)];
            var to = accounts.Where(a => a != from).ElementAt(random.Next(accounts.Length - 1));
            return (Id: TestHost.Id($"c{i}"), From: from, To: to, Amount: (long)random.Next(1, 40));
        }).ToList();

        // A deadline long enough that on a slow machine no transfer is aborted by it: this test is about contention.
        var responses = await Task.WhenAll(transfers.Select(t => host.StartAsync(TestHost.Transfer(t.Id, t.From, t.To, t.Amount, timeoutSeconds: 300))));
        Assert.All(responses, r => Assert.Equal(HttpStatusCode.Accepted, r.StatusCode));

        var expected = new Dictionary<string, long>(initial);
        var committed = 0;
        foreach (var t in transfers)
        {
            var doc = await host.WaitForStatusAsync(t.Id, TimeSpan.FromSeconds(180), "Committed", "Aborted");
            if (doc.GetProperty("status").GetString() == "Committed")
            {
                committed++;
                expected[t.From] -= t.Amount;
                expected[t.To] += t.Amount;
            }
            else
            {
                Assert.Equal($"participant 'bank' voted No: insufficient funds in '{t.From}'", doc.GetProperty("reason").GetString());
            }
        }

        foreach (var account in accounts)
        {
            var (balance, held) = await host.GetAccountAsync(account);
            Assert.Equal(expected[account], balance);
            Assert.Equal(0, held);
            Assert.True(balance >= 0, $"{account} is overdrawn: {balance}");
        }

        Assert.Equal(initial.Values.Sum(), expected.Values.Sum());
        Assert.InRange(committed, 1, Transfers);
        var list = await host.Client.GetFromJsonAsync<JsonElement>("/api/transactions?top=1000");
        Assert.Equal(
            transfers.Select(t => t.Id).Order(StringComparer.Ordinal),
            list.GetProperty("items").EnumerateArray().Select(d => d.GetProperty("id").GetString()!).Order(StringComparer.Ordinal));
    }
}
