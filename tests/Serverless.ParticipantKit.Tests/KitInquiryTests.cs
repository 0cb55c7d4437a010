using Serverless.Core.Messaging;
using Serverless.Testing;

namespace Serverless.ParticipantKit.Tests;

/// <summary>
/// The kit's in-doubt inquiries against real storage: a branch held prepared for longer than
/// <c>TRANSACTIONS_IN_DOUBT_SECONDS</c> (60 here) is asked about with a signed Inquiry in <c>tx-coordinator</c>; a fresher one
/// is not. The kit's clock is the test's, so "longer than" is exact; the resource manager stamps its branches with the real time.
/// </summary>
public sealed class KitInquiryTests : IAsyncLifetime
{
    private AzuriteInstance? _storage;
    private KitApp? _app;

    private KitApp App => _app ?? throw new InvalidOperationException("not started");

    public async Task InitializeAsync()
    {
        _storage = await AzuriteInstance.StartAsync();
        _app = await KitApp.StartAsync(_storage);
        await App.Bank.SetAsync("alice", 100);
    }

    public async Task DisposeAsync()
    {
        if (_app is not null)
        {
            await _app.DisposeAsync();
        }

        if (_storage is not null)
        {
            await _storage.DisposeAsync();
        }
    }

    [Fact]
    public async Task ABranchPreparedLongerThanTheInDoubtTime_IsAskedAboutWithASignedInquiry_AndAFresherOneIsNot()
    {
        var oldOperation = KitApp.Debit("alice", 10);
        await App.ReceiveAsync(KitApp.Command(MessageKind.Prepare, "tx-old", 0, oldOperation));
        var between = DateTimeOffset.UtcNow;

        // The old branch was stamped before `between`, the fresh one after it: a few milliseconds apart, so that a store that
        // keeps times to the millisecond still orders them.
        await Task.Delay(20);
        await App.ReceiveAsync(KitApp.Command(MessageKind.Prepare, "tx-fresh", 3, KitApp.Debit("alice", 20)));
        Assert.Equal((100, 30), await App.AccountAsync("alice"));

        // Now, and 50 s after `between`: both branches are younger than 60 s.
        Assert.Equal(0, await App.Inquiries.AskAsync());
        App.Clock.Now = between.AddSeconds(50);
        Assert.Equal(0, await App.Inquiries.AskAsync());
        Assert.DoesNotContain(await App.CoordinatorInboxAsync(), m => m.Message?.Kind == MessageKind.Inquiry);

        // 60 s after `between`: the old branch has been prepared longer than 60 s, the fresh one not.
        App.Clock.Now = between.AddSeconds(60);
        Assert.Equal(1, await App.Inquiries.AskAsync());

        var inquiry = Assert.Single(await App.CoordinatorInboxAsync(), m => m.Message?.Kind == MessageKind.Inquiry);
        Assert.Equal(new ProtocolMessage(MessageKind.Inquiry, "tx-old") { Branch = 0, Participant = "demo", Operation = oldOperation }, inquiry.Message);
        Assert.Contains($"\"kid\":\"{KitApp.Coordinator.For("demo").KeyId}\"", inquiry.Text, StringComparison.Ordinal);

        // Asking decides nothing: the branch stays prepared until the coordinator's answer arrives as a command.
        Assert.Equal((100, 30), await App.AccountAsync("alice"));

        // Once the fresh branch is as old, both are asked about; a finished branch is not asked about again.
        await App.ReceiveAsync(KitApp.Command(MessageKind.Rollback, "tx-old", 0, oldOperation));
        App.Clock.Now = between.AddMinutes(5);
        Assert.Equal(1, await App.Inquiries.AskAsync());
        var inquiries = (await App.CoordinatorInboxAsync()).Where(m => m.Message?.Kind == MessageKind.Inquiry).Select(m => $"{m.Message!.TransactionId}/{m.Message.Branch}");
        Assert.Equal(["tx-old/0", "tx-fresh/3"], inquiries);
        Assert.Equal((100, 20), await App.AccountAsync("alice"));
    }
}
