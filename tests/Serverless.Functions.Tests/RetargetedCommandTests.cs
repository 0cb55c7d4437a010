using System.Net;
using Serverless.Core.Messaging;
using Serverless.Functions.Storage;
using Serverless.Testing;

namespace Serverless.Functions.Tests;

/// <summary>
/// Real signed commands, captured from a participant's queue as an attacker who can read and write the queues would, and sent
/// again somewhere else: to another participant's inbox, or edited to name another transaction, branch or kind. None of them
/// has any effect: the signature binds a command to its kind, transaction, branch, participant and operation, each
/// participant verifies with its own key, and an inbox acts only on commands addressed to its own participant.
/// </summary>
public sealed class RetargetedCommandTests(RetargetedCommandTests.Fixture fixture) : IClassFixture<RetargetedCommandTests.Fixture>
{
    private const int PoisonedEvent = 3000;
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    private TestHost Host => fixture.Host;

    private PausedInbox Bank => new(Host, "bank");

    private PausedInbox Inventory => new(Host, "inventory");

    [Fact]
    public async Task CapturedCommands_ResentToAnotherParticipantsInbox_ArePoisonedAndHaveNoEffect()
    {
        var (id, alice, bob) = (TestHost.Id("moved"), TestHost.Id("alice"), TestHost.Id("bob"));
        await Host.PutAccountAsync(alice, 100);
        await Host.PutAccountAsync(bob, 0);
        Assert.Equal(HttpStatusCode.Accepted, (await Host.StartAsync(Transfer(id, alice, bob, 30))).StatusCode);
        var prepares = await Bank.TakeAsync(id, 2, Wait);

        foreach (var prepare in prepares)
        {
            await Inventory.DeliverAsync(prepare);
        }

        var poisoned = await PoisonedAsync(QueueNames.Participant("inventory"));
        Assert.All(prepares, p => Assert.Contains(p.Text, poisoned));
        // Signed with the bank's own key, they do not even verify with the inventory's.
        Assert.True(fixture.Logs.Count(PoisonedEvent, "cannot be trusted: signed with a key that is not accepted here") >= 2);
        Assert.Equal((100, 0), await Host.GetAccountAsync(alice));
        Assert.Equal((0, 0), await Host.GetAccountAsync(bob));
        Assert.All((await Host.GetStatusAsync(id)).GetProperty("participants").EnumerateArray(), b => Assert.Null(b.GetProperty("vote").GetString()));

        // The same captured commands in their own inbox are genuine: the transfer goes through.
        foreach (var prepare in prepares)
        {
            await Bank.DeliverAsync(prepare);
        }

        foreach (var commit in await Bank.TakeAsync(id, 2, Wait, c => c.Kind == MessageKind.Commit))
        {
            await Bank.DeliverAsync(commit);
        }

        await Host.WaitForStatusAsync(id, Wait, "Committed");
        Assert.Equal((70, 0), await Host.GetAccountAsync(alice));
        Assert.Equal((30, 0), await Host.GetAccountAsync(bob));
    }

    [Fact]
    public async Task ACapturedCommit_EditedToNameAnotherTransactionBranchOrKind_IsPoisonedAndHasNoEffect()
    {
        var (done, open, alice, bob) = (TestHost.Id("done"), TestHost.Id("open"), TestHost.Id("alice"), TestHost.Id("bob"));
        await Host.PutAccountAsync(alice, 100);
        await Host.PutAccountAsync(bob, 0);

        // One transfer committed, its commits captured on the way.
        Assert.Equal(HttpStatusCode.Accepted, (await Host.StartAsync(Transfer(done, alice, bob, 30))).StatusCode);
        foreach (var prepare in await Bank.TakeAsync(done, 2, Wait))
        {
            await Bank.DeliverAsync(prepare);
        }

        var commits = await Bank.TakeAsync(done, 2, Wait, c => c.Kind == MessageKind.Commit);
        foreach (var commit in commits)
        {
            await Bank.DeliverAsync(commit);
        }

        await Host.WaitForStatusAsync(done, Wait, "Committed");

        // Another, prepared and undecided (a third branch nobody runs never votes): alice holds 50 for it.
        Assert.Equal(HttpStatusCode.Accepted, (await Host.StartAsync(Transfer(open, alice, bob, 50, ghost: true))).StatusCode);
        foreach (var prepare in await Bank.TakeAsync(open, 2, Wait))
        {
            await Bank.DeliverAsync(prepare);
        }

        Assert.Equal((70, 50), await Host.GetAccountAsync(alice));
        var debit = commits.Single(c => c.Branch == 0).Text;
        string[] retargeted =
        [
            Replace(debit, $"\"tx\":\"{done}\"", $"\"tx\":\"{open}\""),
            Replace(debit, "\"branch\":0", "\"branch\":1"),
            Replace(Replace(debit, $"\"tx\":\"{done}\"", $"\"tx\":\"{open}\""), "\"branch\":0", "\"branch\":1"),
            Replace(debit, "\"kind\":\"Commit\"", "\"kind\":\"Rollback\""),
            Replace(debit, "\"amount\":30", "\"amount\":3"),
        ];

        var before = fixture.Logs.Count(PoisonedEvent, "invalid signature");
        foreach (var text in retargeted)
        {
            await Bank.DeliverAsync(new QueuedCommand(text, commits[0].Message));
        }

        var poisoned = await PoisonedAsync(QueueNames.Participant("bank"));
        Assert.All(retargeted, text => Assert.Contains(text, poisoned));
        Assert.Equal(before + retargeted.Length, fixture.Logs.Count(PoisonedEvent, "invalid signature"));
        Assert.Equal((70, 50), await Host.GetAccountAsync(alice));
        Assert.Equal((30, 0), await Host.GetAccountAsync(bob));
        var status = await Host.GetStatusAsync(open);
        Assert.Equal("Preparing", status.GetProperty("status").GetString());
        Assert.All(status.GetProperty("participants").EnumerateArray(), b => Assert.Null(b.GetProperty("outcome").GetString()));

        // Replayed as captured, to its own inbox, it is a duplicate of a finished branch: nothing changes either.
        await Bank.DeliverAsync(commits.Single(c => c.Branch == 0));
        Assert.Equal((70, 50), await Host.GetAccountAsync(alice));
    }

    private static string Replace(string text, string from, string to)
    {
        Assert.Contains(from, text, StringComparison.Ordinal);
        return text.Replace(from, to, StringComparison.Ordinal);
    }

    private async Task<IReadOnlyList<string>> PoisonedAsync(string queue)
    {
        var client = Host.Queue(QueueNames.Poison(queue));
        return await client.ExistsAsync() ? [.. (await client.PeekMessagesAsync(32)).Value.Select(m => m.Body.ToString())] : [];
    }

    private static object Transfer(string id, string from, string to, long amount, bool ghost = false) => new
    {
        transactionId = id,
        timeoutSeconds = 600,
        participants = new object[]
        {
            new { participant = "bank", operation = new { type = "debit", account = from, amount } },
            new { participant = "bank", operation = new { type = "credit", account = to, amount } },
        }.Concat(ghost ? [new { participant = "ghost", operation = new { type = "anything", account = from, amount } }] : []).ToArray(),
    };

    /// <summary>A host whose bank and inventory functions do not run (their commands wait to be captured), keeping its log.</summary>
    public sealed class Fixture : HostFixture
    {
        protected override IReadOnlyDictionary<string, string?>? Settings() => new Dictionary<string, string?>
        {
            ["AzureWebJobs.BankParticipant.Disabled"] = "true",
            ["AzureWebJobs.InventoryParticipant.Disabled"] = "true",
            ["TRANSACTIONS_PHASE2_RETRY_SECONDS"] = "600",
        };
    }
}
