using System.Net;
using Serverless.Testing;

namespace Serverless.Resilience.Tests;

/// <summary>
/// A participant that was down comes back: the bank's queue function is off on the only host (its commands wait in its
/// inbox), then a second host on the same Azurite and task hub starts with it on, and every transaction finishes.
/// </summary>
public sealed class ParticipantOutageTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task TransactionsOfAParticipantThatWasDown_FinishWhenItComesBackOnAnotherHost()
    {
        await using var coordinator = await TestHost.StartAsync(new Dictionary<string, string?>
        {
            ["AzureWebJobs.BankParticipant.Disabled"] = "true",
            ["LOCALHOST_WORKER_ID"] = "coordinator-" + TestNames.UniquePrefix(),
        });
        var accounts = new[] { TestHost.Id("a"), TestHost.Id("b"), TestHost.Id("c") };
        foreach (var account in accounts)
        {
            await coordinator.PutAccountOrFailAsync(account, 100);
        }

        // Six transfers around the three accounts, and one that cannot be afforded.
        var transfers = Enumerable.Range(0, 6).Select(i => (Id: TestHost.Id($"down{i}"), From: accounts[i % 3], To: accounts[(i + 1) % 3], Amount: 10L + i)).ToList();
        var tooMuch = (Id: TestHost.Id("down-no"), From: accounts[0], To: accounts[1], Amount: 1000L);
        foreach (var t in transfers.Append(tooMuch))
        {
            using var response = await coordinator.StartAsync(TestHost.Transfer(t.Id, t.From, t.To, t.Amount, timeoutSeconds: 120));
            Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        }

        // The participant is down: its prepares wait in its inbox, and nothing moves.
        await Eventually.WaitAsync(async () => await coordinator.CountAsync(HostHelpers.BankInbox) >= 14, Wait, "every prepare waiting in the bank's inbox");
        foreach (var t in transfers.Append(tooMuch))
        {
            Assert.Equal("Preparing", (await coordinator.GetStatusAsync(t.Id)).GetProperty("status").GetString());
        }

        foreach (var account in accounts)
        {
            Assert.Equal((100, 0), await coordinator.GetAccountAsync(account));
        }

        await using (var participant = await TestHost.StartAsync(
            new Dictionary<string, string?> { ["LOCALHOST_WORKER_ID"] = "participant-" + TestNames.UniquePrefix() },
            azurite: coordinator.Azurite))
        {
            // Well within the 120 s vote deadline: the second host's bank handles the waiting prepares and raises the votes;
            // the orchestrations (on either host, as the partitions move) decide and send the commits.
            foreach (var t in transfers)
            {
                await coordinator.WaitForStatusAsync(t.Id, Wait, "Committed");
            }

            var refused = await coordinator.WaitForStatusAsync(tooMuch.Id, Wait, "Aborted");
            Assert.Contains("insufficient funds", refused.GetProperty("reason").GetString(), StringComparison.Ordinal);
        }

        // Each account sent one transfer and received one: 100 - out + in, nothing held.
        foreach (var account in accounts)
        {
            var sent = transfers.Where(t => t.From == account).Sum(t => t.Amount);
            var received = transfers.Where(t => t.To == account).Sum(t => t.Amount);
            Assert.Equal((100 - sent + received, 0), await coordinator.GetAccountAsync(account));
        }
    }
}
