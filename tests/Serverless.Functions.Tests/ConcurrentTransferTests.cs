using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Serverless.Testing;

namespace Serverless.Functions.Tests;

/// <summary>Many transfers at once among a few accounts: every transaction ends, and money is exactly conserved.</summary>
[Collection(AzuriteCollection.Name)]
public sealed class ConcurrentTransferTests(AzuriteFixture azurite)
{
    [Fact]
    public async Task SixtyConcurrentTransfers_AllEnd_ConserveMoney_AndBalancesEqualTheCommittedTransfers()
    {
        await using var host = await TestHost.StartAsync(azurite.Azurite.ConnectionString);
        string[] accounts = ["a1", "a2", "a3", "a4"];
        var initial = new Dictionary<string, long> { ["a1"] = 100, ["a2"] = 50, ["a3"] = 20, ["a4"] = 0 };
        foreach (var (account, balance) in initial)
        {
            await host.PutAccountAsync(account, balance);
        }

        var random = new Random(1234);
        var transfers = Enumerable.Range(0, 60).Select(i =>
        {
            var from = accounts[random.Next(accounts.Length)];
            var to = accounts.Where(a => a != from).ElementAt(random.Next(accounts.Length - 1));
            return (Id: $"c-{i}", From: from, To: to, Amount: (long)random.Next(1, 40));
        }).ToList();

        var responses = await Task.WhenAll(transfers.Select(t => host.StartAsync(TestHost.Transfer(t.Id, t.From, t.To, t.Amount), waitSeconds: 60)));
        Assert.All(responses, r => Assert.True(r.StatusCode is HttpStatusCode.OK or HttpStatusCode.Accepted, r.StatusCode.ToString()));

        var expected = new Dictionary<string, long>(initial);
        var committed = 0;
        foreach (var t in transfers)
        {
            var doc = await host.WaitForStatusAsync(t.Id, TimeSpan.FromSeconds(60), "Committed", "Aborted");
            if (doc.GetProperty("status").GetString() == "Committed")
            {
                committed++;
                expected[t.From] -= t.Amount;
                expected[t.To] += t.Amount;
            }
            else
            {
                Assert.Contains("insufficient funds", doc.GetProperty("reason").GetString(), StringComparison.Ordinal);
            }
        }

        foreach (var account in accounts)
        {
            var (balance, held) = await host.GetAccountAsync(account);
            Assert.Equal(expected[account], balance);
            Assert.Equal(0, held);
            Assert.True(balance >= 0);
        }

        Assert.Equal(initial.Values.Sum(), expected.Values.Sum());
        Assert.InRange(committed, 1, transfers.Count);
        var list = await host.Client.GetFromJsonAsync<JsonElement>("/api/transactions?top=1000");
        Assert.Equal(60, list.GetProperty("items").GetArrayLength());
    }
}
