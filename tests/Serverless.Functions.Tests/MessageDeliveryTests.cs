using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Azure.Storage.Queues;
using Serverless.Core.Messaging;
using Serverless.Core.Participants;
using Serverless.Core.Protocol;
using Serverless.Functions.Storage;
using Serverless.Participants.Samples;
using Serverless.Testing;
using ProtocolViolationException = Serverless.Core.Participants.ProtocolViolationException;

namespace Serverless.Functions.Tests;

/// <summary>
/// At-least-once delivery (I5, I6) through the real queue functions: signed commands injected into <c>tx-participant-bank</c>
/// as duplicates, redeliveries and out of order; messages that must never be acted on; a handler that keeps failing.
/// </summary>
public sealed class MessageDeliveryTests(MessageDeliveryTests.Fixture fixture) : IClassFixture<MessageDeliveryTests.Fixture>
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    private TestHost Host => fixture.Host;

    private QueueClient BankQueue => Host.Queue(QueueNames.Participant("bank"));

    [Fact]
    public async Task DuplicateCommands_AfterCommit_InReverseOrder_ChangeNothing()
    {
        var (id, alice, bob) = (TestHost.Id("dup"), TestHost.Id("alice"), TestHost.Id("bob"));
        await Host.PutAccountAsync(alice, 100);
        await Host.PutAccountAsync(bob, 0);
        Assert.Equal(HttpStatusCode.OK, (await Host.StartAsync(TestHost.Transfer(id, alice, bob, 30), waitSeconds: 30)).StatusCode);
        var poisonBefore = await CountAsync(QueueNames.Poison(BankQueue.Name));

        // Every command of the transaction again, last first.
        foreach (var branch in new[] { 1, 0 })
        {
            await SendAsync(Command(MessageKind.Commit, id, branch, Transfer(alice, bob, 30)[branch]));
            await SendAsync(Command(MessageKind.Commit, id, branch, Transfer(alice, bob, 30)[branch]));
            await SendAsync(Command(MessageKind.Prepare, id, branch, Transfer(alice, bob, 30)[branch]));
        }

        await WaitUntilEmptyAsync(BankQueue);
        Assert.Equal((70, 0), await Host.GetAccountAsync(alice));
        Assert.Equal((30, 0), await Host.GetAccountAsync(bob));
        var doc = await Host.GetStatusAsync(id);
        Assert.Equal("Committed", doc.GetProperty("status").GetString());
        Assert.All(doc.GetProperty("participants").EnumerateArray(), b => Assert.Equal("Committed", b.GetProperty("outcome").GetString()));
        Assert.Equal(poisonBefore, await CountAsync(QueueNames.Poison(BankQueue.Name)));
    }

    [Fact]
    public async Task RedeliveredPrepareAndRollback_HoldAndReleaseOnce_AndACommitAfterTheRollbackIsPoisoned()
    {
        var (id, alice) = (TestHost.Id("redeliver"), TestHost.Id("alice"));
        await Host.PutAccountAsync(alice, 100);
        var debit = Operation("debit", alice, 40);
        Assert.Equal(HttpStatusCode.Accepted, (await Host.StartAsync(new
        {
            transactionId = id,
            timeoutSeconds = 600,
            participants = new object[]
            {
                new { participant = "bank", operation = new { type = "debit", account = alice, amount = 40 } },
                new { participant = "ghost", operation = new { anything = true } },
            },
        })).StatusCode);
        await Eventually.WaitAsync(async () => (await Host.GetAccountAsync(alice)).Held == 40, Wait, "the debit held");

        await SendAsync(Command(MessageKind.Prepare, id, 0, debit));
        await SendAsync(Command(MessageKind.Prepare, id, 0, debit));
        await WaitUntilEmptyAsync(BankQueue);

        Assert.Equal((100, 40), await Host.GetAccountAsync(alice));
        Assert.Equal("Preparing", (await Host.GetStatusAsync(id)).GetProperty("status").GetString());

        Assert.Equal(HttpStatusCode.Accepted, (await Host.Client.PostAsync($"/api/transactions/{id}/abort", null)).StatusCode);
        await Eventually.WaitAsync(async () => await Host.GetAccountAsync(alice) == (100, 0), Wait, "the hold released");
        await SendAsync(Command(MessageKind.Rollback, id, 0, debit));
        await SendAsync(Command(MessageKind.Rollback, id, 0, debit));
        var commit = Command(MessageKind.Commit, id, 0, debit);
        await SendAsync(commit);

        await Eventually.WaitAsync(async () => (await PoisonedAsync(BankQueue.Name)).Contains(commit), Wait, "the contradicting commit poisoned");
        await WaitUntilEmptyAsync(BankQueue);
        Assert.Equal((100, 0), await Host.GetAccountAsync(alice));
        var doc = await Host.GetStatusAsync(id);
        Assert.Equal("Abort", doc.GetProperty("decision").GetString());
        Assert.Equal("RolledBack", doc.GetProperty("participants")[0].GetProperty("outcome").GetString());
    }

    [Fact]
    public async Task RollbackArrivingBeforeItsPrepare_MakesThePrepareVoteNo_AndReserveNothing()
    {
        var (id, alice) = (TestHost.Id("early"), TestHost.Id("alice"));
        await Host.PutAccountAsync(alice, 100);
        var debit = Operation("debit", alice, 60);

        // A transaction no coordinator knows: the replies go nowhere, the bank's records tell what happened.
        await SendAsync(Command(MessageKind.Rollback, id, 0, debit));
        await WaitUntilEmptyAsync(BankQueue);
        await SendAsync(Command(MessageKind.Prepare, id, 0, debit));
        await SendAsync(Command(MessageKind.Prepare, id, 1, debit));
        await WaitUntilEmptyAsync(BankQueue);

        // Branch 1 had no early rollback: it holds, which shows that branch 0's prepare was really handled.
        Assert.Equal((100, 60), await Host.GetAccountAsync(alice));
        var bank = new BankResourceManager(Host.Table("BankAccounts"));
        Assert.Equal(PrepareResult.No(ParticipantProtocol.RolledBackBeforePrepare), await bank.PrepareAsync(new BranchKey(id, 0), debit));
        Assert.Equal(PrepareResult.Yes, await bank.PrepareAsync(new BranchKey(id, 1), debit));
        await bank.RollbackAsync(new BranchKey(id, 1), debit);
        Assert.Equal((100, 0), await Host.GetAccountAsync(alice));
    }

    [Fact]
    public async Task ResourceManager_DuplicatePrepareCommitAndRollback_ActOnce_AndContradictionsAreRefused()
    {
        var alice = TestHost.Id("alice");
        await Host.PutAccountAsync(alice, 100);
        var bank = new BankResourceManager(Host.Table("BankAccounts"));
        var debit = Operation("debit", alice, 10);
        var committed = new BranchKey(TestHost.Id("rmc"), 0);
        var rolledBack = new BranchKey(TestHost.Id("rmr"), 0);

        Assert.Equal(Vote.Yes, (await bank.PrepareAsync(committed, debit)).Vote);
        Assert.Equal(Vote.Yes, (await bank.PrepareAsync(committed, debit)).Vote);
        Assert.Equal(Vote.Yes, (await bank.PrepareAsync(rolledBack, debit)).Vote);
        Assert.Equal((100, 20), await Host.GetAccountAsync(alice));
        await bank.CommitAsync(committed, debit);
        await bank.CommitAsync(committed, debit);
        await bank.RollbackAsync(rolledBack, debit);
        await bank.RollbackAsync(rolledBack, debit);

        Assert.Equal((90, 0), await Host.GetAccountAsync(alice));
        await Assert.ThrowsAsync<ProtocolViolationException>(() => bank.RollbackAsync(committed, debit));
        await Assert.ThrowsAsync<ProtocolViolationException>(() => bank.CommitAsync(rolledBack, debit));
        await Assert.ThrowsAsync<ProtocolViolationException>(() => bank.CommitAsync(new BranchKey(TestHost.Id("never"), 0), debit));
        Assert.Equal((90, 0), await Host.GetAccountAsync(alice));
    }

    [Fact]
    public async Task ResourceManager_WhenABalanceIsChangedElsewhereBetweenPrepareAndCommit_CommitsOntoTheNewBalance()
    {
        var (alice, bob) = (TestHost.Id("alice"), TestHost.Id("bob"));
        await Host.PutAccountAsync(alice, 100);
        await Host.PutAccountAsync(bob, 0);
        var bank = new BankResourceManager(Host.Table("BankAccounts"));
        var id = TestHost.Id("changed");
        Assert.Equal(Vote.Yes, (await bank.PrepareAsync(new BranchKey(id, 0), Operation("debit", alice, 10))).Vote);
        Assert.Equal(Vote.Yes, (await bank.PrepareAsync(new BranchKey(id, 1), Operation("credit", bob, 10))).Vote);

        await Host.PutAccountAsync(alice, 1000);
        await Host.PutAccountAsync(bob, 500);
        await bank.CommitAsync(new BranchKey(id, 0), Operation("debit", alice, 10));
        await bank.CommitAsync(new BranchKey(id, 1), Operation("credit", bob, 10));

        Assert.Equal((990, 0), await Host.GetAccountAsync(alice));
        Assert.Equal((510, 0), await Host.GetAccountAsync(bob));
    }

    [Fact]
    public async Task ConcurrentDuplicatePrepares_HoldOnce()
    {
        var alice = TestHost.Id("alice");
        await Host.PutAccountAsync(alice, 100);
        var bank = new BankResourceManager(Host.Table("BankAccounts"));
        var branch = new BranchKey(TestHost.Id("racing"), 0);

        var votes = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => bank.PrepareAsync(branch, Operation("debit", alice, 10))));

        Assert.All(votes, v => Assert.Equal(Vote.Yes, v.Vote));
        Assert.Equal((100, 10), await Host.GetAccountAsync(alice));
    }

    [Fact]
    public async Task UntrustworthyCommands_ArePoisoned_AndNeverActedOn()
    {
        var (id, alice) = (TestHost.Id("forged"), TestHost.Id("alice"));
        await Host.PutAccountAsync(alice, 100);
        var credit = Operation("credit", alice, 1000);
        var prepare = new ProtocolMessage(MessageKind.Prepare, id) { Branch = 0, Participant = "bank", Operation = credit, OnePhase = true };
        var commit = prepare with { Kind = MessageKind.Commit, OnePhase = false };
        string[] hostile =
        [
            TestHost.ForgingCodec.Encode(prepare),
            TestHost.WithoutSignature(commit),
            Host.CodecOf("inventory").Encode(prepare with { Participant = "inventory" }),
            "not json at all",
        ];

        foreach (var text in hostile)
        {
            await BankQueue.SendMessageAsync(text);
        }

        await Eventually.WaitAsync(async () => hostile.All((await PoisonedAsync(BankQueue.Name)).Contains), Wait, "every hostile command poisoned");
        await WaitUntilEmptyAsync(BankQueue);
        Assert.Equal((100, 0), await Host.GetAccountAsync(alice));
        Assert.Null(await Host.Decisions.GetAsync(id));
    }

    [Theory]
    [InlineData("not json at all")]
    [InlineData("unsigned")]
    [InlineData("forged")]
    public async Task UntrustworthyReplies_ToTheCoordinator_ArePoisoned_AndNeverActedOn(string kind)
    {
        var (id, alice) = (TestHost.Id("reply"), TestHost.Id("alice"));
        await Host.PutAccountAsync(alice, 100);
        Assert.Equal(HttpStatusCode.Accepted, (await Host.StartAsync(new
        {
            transactionId = id,
            timeoutSeconds = 600,
            participants = new object[] { new { participant = "ghost", operation = new { anything = true } } },
        })).StatusCode);
        var vote = new ProtocolMessage(MessageKind.Vote, id) { Branch = 0, Vote = Vote.Yes, Participant = "ghost" };
        var text = kind switch
        {
            "unsigned" => TestHost.WithoutSignature(vote),
            "forged" => TestHost.ForgingCodec.Encode(vote),
            _ => kind,
        };

        await Host.Queue(QueueNames.Coordinator).SendMessageAsync(text);

        await Eventually.WaitAsync(async () => (await PoisonedAsync(QueueNames.Coordinator)).Contains(text), Wait, "the reply poisoned");
        var doc = await Host.GetStatusAsync(id);
        Assert.Equal("Preparing", doc.GetProperty("status").GetString());
        Assert.Equal(JsonValueKind.Null, doc.GetProperty("participants")[0].GetProperty("vote").ValueKind);
        Assert.Equal(HttpStatusCode.Accepted, (await Host.Client.PostAsync($"/api/transactions/{id}/abort", null)).StatusCode);
    }

    [Fact]
    public async Task ACommandWhoseHandlerKeepsFailing_IsRetried_ThenPoisonedAfterMaxDequeueCount()
    {
        // The orders function runs here without a database: its handler fails on every delivery.
        var prepare = Host.CodecOf("orders").Encode(new ProtocolMessage(MessageKind.Prepare, TestHost.Id("failing"))
        {
            Branch = 0,
            Participant = "orders",
            Operation = """{"type":"place","orderId":"o-1","sku":"s","quantity":1,"customer":"c"}""",
        });
        var queue = Host.Queue(QueueNames.Participant("orders"));
        await queue.CreateIfNotExistsAsync();

        await queue.SendMessageAsync(prepare);

        await Eventually.WaitAsync(async () => (await PoisonedAsync(queue.Name)).Contains(prepare), Wait, "the failing command poisoned");
        await WaitUntilEmptyAsync(queue);
        Assert.Equal(2, fixture.Logs.Lines.Count(l => l.Message.Contains($"Queue {queue.Name}: message", StringComparison.Ordinal) && l.Message.Contains("failed (delivery", StringComparison.Ordinal)));
        Assert.Contains(fixture.Logs.Lines, l => l.Message.Contains($"Queue {queue.Name}: message", StringComparison.Ordinal) && l.Message.Contains("poison queue after 2 deliveries", StringComparison.Ordinal));
    }

    private static string Operation(string type, string account, long amount) => JsonSerializer.Serialize(new { type, account, amount });

    private static string[] Transfer(string from, string to, long amount) => [Operation("debit", from, amount), Operation("credit", to, amount)];

    private string Command(MessageKind kind, string id, int branch, string operation) =>
        Host.CodecOf("bank").Encode(new ProtocolMessage(kind, id) { Branch = branch, Participant = "bank", Operation = operation });

    private Task SendAsync(string text) => BankQueue.SendMessageAsync(text);

    private async Task<int> CountAsync(string queue)
    {
        var client = Host.Queue(queue);
        return await client.ExistsAsync() ? (await client.GetPropertiesAsync()).Value.ApproximateMessagesCount : 0;
    }

    private async Task<IReadOnlyList<string>> PoisonedAsync(string queue)
    {
        var client = Host.Queue(QueueNames.Poison(queue));
        return await client.ExistsAsync() ? [.. (await client.PeekMessagesAsync(32)).Value.Select(m => m.Body.ToString())] : [];
    }

    /// <summary>Waits until every message of <paramref name="queue"/> is handled and deleted (the count includes those in flight).</summary>
    private async Task WaitUntilEmptyAsync(QueueClient queue) =>
        await Eventually.WaitAsync(async () => await CountAsync(queue.Name) == 0, Wait, $"{queue.Name} empty");

    /// <summary>A host that keeps its log lines, and runs the orders function without a database (a handler that always fails).</summary>
    public sealed class Fixture : HostFixture
    {
        protected override IReadOnlyDictionary<string, string?>? Settings() => new Dictionary<string, string?>
        {
            ["AzureWebJobs.OrdersParticipant.Disabled"] = "false",
            ["AzureFunctionsJobHost:extensions:queues:maxDequeueCount"] = "2",
            ["AzureFunctionsJobHost:extensions:queues:visibilityTimeout"] = "00:00:00.2",
        };
    }
}
