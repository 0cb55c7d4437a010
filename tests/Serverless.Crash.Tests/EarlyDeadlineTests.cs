using System.Collections.Concurrent;
using Microsoft.Extensions.Logging.Abstractions;
using Serverless.Core.Messaging;
using Serverless.Core.Protocol;
using Serverless.Runtime.Coordination;
using Serverless.Runtime.Messaging;
using Serverless.Runtime.Storage;
using Serverless.Testing;

namespace Serverless.Crash.Tests;

/// <summary>
/// A durable timer must not be lost: a vote-deadline message delivered before the deadline by this instance's clock
/// (clock skew between instances) is scheduled again for the time that remains, not failed until it is poisoned.
/// </summary>
/// <remarks>The coordinator runs in this process here, with a clock the test moves; storage is a real Azurite.</remarks>
public sealed class EarlyDeadlineTests(HostFixture fixture) : IClassFixture<HostFixture>
{
    [Fact]
    public async Task ADeadlineDeliveredEarly_IsSentAgainForTheTimeThatRemains()
    {
        var names = new StorageNames(TestNames.UniquePrefix());
        var store = new TransactionStore(new Azure.Data.Tables.TableServiceClient(fixture.ConnectionString).GetTableClient(names.TransactionsTable));
        await store.EnsureCreatedAsync();
        var sender = new RecordingSender();
        var clock = new ManualClock(DateTimeOffset.UtcNow);
        var codec = new MessageCodec();
        var coordinator = new TransactionCoordinator(
            store, sender, codec, names, new CoordinatorOptions(), clock, new CompletionSignals(), NullLogger<TransactionCoordinator>.Instance);
        var (outcome, _) = await coordinator.StartAsync(new NewTransaction("early-deadline", TimeSpan.FromSeconds(30), [("bank", "{}")], "hash"));
        Assert.Equal(StartOutcome.Started, outcome);
        sender.Sent.Clear();

        clock.Now += TimeSpan.FromSeconds(10);
        await coordinator.HandleAsync(new ProtocolMessage(MessageKind.Deadline, "early-deadline"));

        var (queue, text, delay) = Assert.Single(sender.Sent);
        Assert.Equal(names.CoordinatorQueue, queue);
        Assert.True(codec.TryDecode(text, out var message, out var error), error);
        Assert.Equal(MessageKind.Deadline, message!.Kind);
        Assert.Equal(TimeSpan.FromSeconds(20), delay);
        Assert.Equal(TransactionStatus.Preparing, (await coordinator.GetAsync("early-deadline"))!.Status);
    }

    private sealed class ManualClock(DateTimeOffset now) : TimeProvider
    {
        public DateTimeOffset Now { get; set; } = now;

        public override DateTimeOffset GetUtcNow() => Now;
    }

    private sealed class RecordingSender : IMessageSender
    {
        public ConcurrentQueue<(string Queue, string Text, TimeSpan Delay)> Sent { get; } = new();

        public Task SendAsync(string queue, string text, TimeSpan delay = default, CancellationToken cancellationToken = default)
        {
            Sent.Enqueue((queue, text, delay));
            return Task.CompletedTask;
        }
    }
}
