using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Serverless.Core.Messaging;
using Serverless.Core.Participants;
using Serverless.Core.Protocol;
using Serverless.Runtime.Coordination;
using Serverless.Runtime.Messaging;
using Serverless.Runtime.Samples;
using Serverless.Testing;

namespace Serverless.Functions.Tests;

/// <summary>At-least-once delivery (I5, I6): duplicates, reordering, redelivery after a crash, and messages that must never be acted on.</summary>
[Collection(AzuriteCollection.Name)]
public sealed class MessageDeliveryTests(AzuriteFixture azurite)
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task DuplicateCommandsAndReplies_AfterCommit_ChangeNothing()
    {
        await using var host = await TestHost.StartAsync(azurite.Azurite.ConnectionString);
        await host.PutAccountAsync("alice", 100);
        await host.PutAccountAsync("bob", 0);
        await host.StartAsync(TestHost.Transfer("dup-1", "alice", "bob", 30), waitSeconds: 20);
        var codec = host.Services.GetRequiredService<MessageCodec>();
        var state = (await host.Services.GetRequiredService<TransactionCoordinator>().GetAsync("dup-1"))!;

        // Every message of the transaction, delivered again, in reverse order.
        var bankQueue = host.Names.ParticipantQueue("bank");
        foreach (var branch in state.Branches.Reverse())
        {
            await host.Transport.SendAsync(bankQueue, codec.Encode(ProtocolMessage.Command(MessageKind.Commit, "dup-1", branch)));
            await host.Transport.SendAsync(bankQueue, codec.Encode(ProtocolMessage.Command(MessageKind.Prepare, "dup-1", branch)));
            await host.Transport.SendAsync(host.Names.CoordinatorQueue, codec.Encode(new ProtocolMessage(MessageKind.Ack, "dup-1") { Branch = branch.Index, Outcome = BranchOutcome.Committed }));
            await host.Transport.SendAsync(host.Names.CoordinatorQueue, codec.Encode(new ProtocolMessage(MessageKind.Vote, "dup-1") { Branch = branch.Index, Vote = Vote.Yes }));
        }

        await WaitForCountAsync(host, bankQueue, 0);
        await WaitForCountAsync(host, host.Names.CoordinatorQueue, 1); // only the vote-deadline timer, still invisible
        Assert.Equal((70, 0), await host.GetAccountAsync("alice"));
        Assert.Equal((30, 0), await host.GetAccountAsync("bob"));
        Assert.Equal("Committed", (await host.GetStatusAsync("dup-1")).GetProperty("status").GetString());
        Assert.Equal(0, await CountAsync(host, "tx-participant-bank-poison"));
    }

    [Fact]
    public async Task Rollback_ArrivingBeforePrepare_MakesTheLatePrepareVoteNoAndReserveNothing()
    {
        await using var host = await TestHost.StartAsync(azurite.Azurite.ConnectionString);
        await host.PutAccountAsync("alice", 100);
        var bank = host.Services.GetRequiredService<BankResourceManager>();
        var branch = new BranchKey("early-rollback", 0);
        const string debit = """{"type":"debit","account":"alice","amount":60}""";

        await bank.RollbackAsync(branch, debit);
        var vote = await bank.PrepareAsync(branch, debit);
        var again = await bank.PrepareAsync(branch, debit);

        Assert.Equal(Vote.No, vote.Vote);
        Assert.Equal(ParticipantProtocol.RolledBackBeforePrepare, vote.Reason);
        Assert.Equal(vote, again);
        Assert.Equal((100, 0), await host.GetAccountAsync("alice"));
    }

    [Fact]
    public async Task ResourceManager_DuplicatePrepareCommitAndRollback_ActOnce()
    {
        await using var host = await TestHost.StartAsync(azurite.Azurite.ConnectionString);
        await host.PutAccountAsync("alice", 100);
        var bank = host.Services.GetRequiredService<BankResourceManager>();
        const string debit = """{"type":"debit","account":"alice","amount":10}""";
        var committed = new BranchKey("rm-commit", 0);
        var rolledBack = new BranchKey("rm-rollback", 0);

        Assert.Equal(Vote.Yes, (await bank.PrepareAsync(committed, debit)).Vote);
        Assert.Equal(Vote.Yes, (await bank.PrepareAsync(committed, debit)).Vote);
        Assert.Equal(Vote.Yes, (await bank.PrepareAsync(rolledBack, debit)).Vote);
        Assert.Equal((100, 20), await host.GetAccountAsync("alice"));
        await bank.CommitAsync(committed, debit);
        await bank.CommitAsync(committed, debit);
        await bank.RollbackAsync(rolledBack, debit);
        await bank.RollbackAsync(rolledBack, debit);

        Assert.Equal((90, 0), await host.GetAccountAsync("alice"));
        await Assert.ThrowsAsync<ProtocolViolationException>(() => bank.RollbackAsync(committed, debit));
        await Assert.ThrowsAsync<ProtocolViolationException>(() => bank.CommitAsync(rolledBack, debit));
        await Assert.ThrowsAsync<ProtocolViolationException>(() => bank.CommitAsync(new BranchKey("never", 0), debit));
        Assert.Equal((90, 0), await host.GetAccountAsync("alice"));
    }

    [Fact]
    public async Task ConcurrentDuplicatePrepares_HoldOnce()
    {
        await using var host = await TestHost.StartAsync(azurite.Azurite.ConnectionString);
        await host.PutAccountAsync("alice", 100);
        var bank = host.Services.GetRequiredService<BankResourceManager>();
        const string debit = """{"type":"debit","account":"alice","amount":10}""";

        var votes = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => bank.PrepareAsync(new BranchKey("racing", 0), debit)));

        Assert.All(votes, v => Assert.Equal(Vote.Yes, v.Vote));
        Assert.Equal((100, 10), await host.GetAccountAsync("alice"));
    }

    [Fact]
    public async Task Coordinator_WhenItCrashesAfterTheDecisionBeforeSending_ResendsOnRedelivery()
    {
        await using var host = await TestHost.StartAsync(azurite.Azurite.ConnectionString,
            new Dictionary<string, string?> { ["TRANSACTIONS_HOSTED_PARTICIPANTS"] = "inventory" });
        var real = host.Services.GetRequiredService<TransactionCoordinator>();
        var codec = host.Services.GetRequiredService<MessageCodec>();
        var failing = new FailingSender(host.Transport);
        var crashing = new TransactionCoordinator(real.Store, failing, codec, host.Names, new CoordinatorOptions(), TimeProvider.System,
            new CompletionSignals(), Microsoft.Extensions.Logging.Abstractions.NullLogger<TransactionCoordinator>.Instance);
        await real.StartAsync(new NewTransaction("crash-1", TimeSpan.FromMinutes(5), [("bank", """{"type":"credit","account":"x","amount":1}""")], "h"));
        var vote = new ProtocolMessage(MessageKind.Vote, "crash-1") { Branch = 0, Vote = Vote.Yes };

        failing.Fail = true;
        await Assert.ThrowsAsync<IOException>(() => crashing.HandleAsync(vote));
        var decided = (await real.GetAsync("crash-1"))!;
        Assert.Equal(Decision.Commit, decided.Decision);

        failing.Fail = false;
        var bankQueue = host.Transport.Queue(host.Names.ParticipantQueue("bank"));
        var before = (await bankQueue.GetPropertiesAsync()).Value.ApproximateMessagesCount;
        await crashing.HandleAsync(vote);

        var messages = (await bankQueue.PeekMessagesAsync(32)).Value.Select(m => m.Body.ToString()).ToList();
        Assert.Equal(before + 1, messages.Count);
        Assert.Contains(messages, m => codec.TryDecode(m, out var decoded, out _) && decoded!.Kind == MessageKind.Commit && decoded.TransactionId == "crash-1");
    }

    [Theory]
    [InlineData("not json at all")]
    [InlineData("""{"body":{"v":2,"kind":"Vote","tx":"t","branch":0,"vote":"Yes"}}""")]
    [InlineData("""{"body":{"v":1,"kind":"Vote","tx":"t","branch":0}}""")]
    [InlineData("""{"body":{"v":1,"kind":"Commit","tx":"t","branch":0,"participant":"bank","operation":{"type":"credit","account":"alice","amount":1}}}""")]
    public async Task UntrustworthyMessages_GoToThePoisonQueue_AndAreNeverActedOn(string text)
    {
        await using var host = await TestHost.StartAsync(azurite.Azurite.ConnectionString);

        await host.Transport.SendAsync(host.Names.CoordinatorQueue, text);

        var poison = host.Names.CoordinatorQueue + "-poison";
        await Eventually.WaitAsync(async () => await CountAsync(host, poison, prefixed: false) == 1, Wait, "the message poisoned");
        var kept = (await host.Transport.Queue(poison).PeekMessagesAsync(1)).Value[0].Body.ToString();
        Assert.Equal(text, kept);
    }

    [Fact]
    public async Task ForgedCommands_WhenSigningIsOn_AreRejectedAndPoisoned()
    {
        await using var host = await TestHost.StartAsync(azurite.Azurite.ConnectionString, new Dictionary<string, string?> { ["TRANSACTIONS_SIGNING_KEY"] = "k" });
        await host.PutAccountAsync("alice", 100);
        await host.PutAccountAsync("bob", 0);
        var forger = new MessageCodec("not-the-key"u8.ToArray());
        var branch = new BranchState(0, "bank", """{"type":"credit","account":"alice","amount":1000}""");

        await host.Transport.SendAsync(host.Names.ParticipantQueue("bank"), forger.Encode(ProtocolMessage.Command(MessageKind.Prepare, "forged", branch)));
        await host.Transport.SendAsync(host.Names.ParticipantQueue("bank"), new MessageCodec().Encode(ProtocolMessage.Command(MessageKind.Commit, "forged", branch)));

        await Eventually.WaitAsync(async () => await CountAsync(host, host.Names.ParticipantQueue("bank") + "-poison", prefixed: false) == 2, Wait, "both forged commands poisoned");
        var committed = await (await host.StartAsync(TestHost.Transfer("signed-1", "alice", "bob", 5), waitSeconds: 20)).Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("Committed", committed.GetProperty("status").GetString());
        Assert.Equal((95, 0), await host.GetAccountAsync("alice"));
    }

    [Fact]
    public async Task AFailingHandler_IsRetried_ThenPoisonedAfterMaxDequeueCount()
    {
        await using var host = await TestHost.StartAsync(azurite.Azurite.ConnectionString);
        var codec = host.Services.GetRequiredService<MessageCodec>();
        var calls = 0;
        var queue = host.Prefix + "failing";
        await host.Transport.EnsureQueuesAsync([queue]);
        var listenerOnQueue = new QueueListener(queue, (_, _) =>
        {
            Interlocked.Increment(ref calls);
            throw new InvalidOperationException("boom");
        }, host.Transport, codec, new QueueListenerOptions { MaxDequeueCount = 3, MessageLease = TimeSpan.FromSeconds(5) },
            Microsoft.Extensions.Logging.Abstractions.NullLogger<QueueListener>.Instance);
        using var stop = new CancellationTokenSource();
        var run = listenerOnQueue.RunAsync(stop.Token);

        await host.Transport.SendAsync(queue, codec.Encode(new ProtocolMessage(MessageKind.Deadline, "any")));

        await Eventually.WaitAsync(async () => await CountAsync(host, queue + "-poison", prefixed: false) == 1, Wait, "the failing message poisoned");
        await stop.CancelAsync();
        await run;
        Assert.Equal(3, calls);
    }

    private static async Task WaitForCountAsync(TestHost host, string queue, int count) =>
        await Eventually.WaitAsync(async () => (await host.Transport.Queue(queue).GetPropertiesAsync()).Value.ApproximateMessagesCount == count, Wait, $"{queue} down to {count} messages");

    private static async Task<int> CountAsync(TestHost host, string queue, bool prefixed = true)
    {
        var client = host.Transport.Queue(prefixed ? host.Prefix + queue : queue);
        if (!await client.ExistsAsync())
        {
            return 0;
        }

        return (await client.GetPropertiesAsync()).Value.ApproximateMessagesCount;
    }

    /// <summary>Simulates a crash right after the checkpoint write: every send fails while <see cref="Fail"/> is set.</summary>
    private sealed class FailingSender(IMessageSender inner) : IMessageSender
    {
        public bool Fail { get; set; }

        public Task SendAsync(string queue, string text, TimeSpan delay = default, CancellationToken cancellationToken = default) =>
            Fail ? throw new IOException("simulated crash before sending") : inner.SendAsync(queue, text, delay, cancellationToken);
    }
}
