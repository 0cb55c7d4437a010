using System.Net;
using Azure.Data.Tables;
using Microsoft.DurableTask.Client;
using Serverless.Core.Messaging;
using Serverless.Core.Participants;
using Serverless.Core.Protocol;
using Serverless.Functions.Storage;
using Serverless.Participants.Samples;
using Serverless.Participants.Tables;
using Serverless.Testing;

namespace Serverless.Resilience.Tests;

/// <summary>
/// A host whose bank queue function is off (AzureWebJobs.BankParticipant.Disabled): the tests hand the bank its prepares
/// themselves, and no commit or rollback command ever reaches it, as if each were lost. The one in-doubt resolver runs every
/// second (ResolveInDoubt on TRANSACTIONS_IN_DOUBT_SCHEDULE) for branches prepared over a second ago, and phase 2 is not
/// re-sent within a test (the first retry after an hour), so whatever finishes a prepared bank branch here is the resolver.
/// </summary>
public sealed class InDoubtHostFixture : LoggedHostFixture
{
    protected override IReadOnlyDictionary<string, string?> Settings() => new Dictionary<string, string?>
    {
        ["AzureWebJobs.BankParticipant.Disabled"] = "true",
        ["TRANSACTIONS_IN_DOUBT_SCHEDULE"] = "*/1 * * * * *",
        ["TRANSACTIONS_IN_DOUBT_SECONDS"] = "1",

        ["TRANSACTIONS_PHASE2_RETRY_SECONDS"] = "3600",
        ["Logging:LogLevel:Serverless.Functions.Coordination"] = "Information",
    };
}

/// <summary>
/// In-doubt resolution (src/Serverless.Functions/Coordination/InDoubtResolver.cs): a participant's prepared branch is finished
/// by the recorded decision; with none recorded, presumed aborted when the coordinator cannot decide any more; left waiting
/// while it still can. The same resolver answers the inquiries of remote participants on <c>tx-coordinator</c>.
/// </summary>
public sealed class InDoubtResolutionTests(InDoubtHostFixture fixture) : IClassFixture<InDoubtHostFixture>
{
    private const string Ghost = "ghost";
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    private TestHost Host => fixture.Host;

    [Fact]
    public async Task APreparedBranch_WhoseCommitWasLost_IsCommittedByTheRecordedDecision_AndTheTransactionEnds()
    {
        var (from, to) = await AccountsAsync(100, 0);
        var id = TestHost.Id("lost-commit");
        Assert.Equal(HttpStatusCode.Accepted, (await Host.StartAsync(TestHost.Transfer(id, from, to, 30, timeoutSeconds: 60))).StatusCode);

        await Host.DeliverByHandAsync("bank", id, expected: 2, Wait);
        var decided = await Host.WaitForStatusAsync(id, Wait, "Committing", "Committed");
        Assert.Equal("Commit", decided.GetProperty("decision").GetString());
        await Host.DropCommandsAsync("bank", id, expected: 2, Wait);

        await Host.WaitForStatusAsync(id, Wait, "Committed");
        Assert.Equal((70, 0), await Host.GetAccountAsync(from));
        Assert.Equal((30, 0), await Host.GetAccountAsync(to));
        Assert.Equal(Decision.Commit, (await Host.Decisions.GetAsync(id))!.Decision);
        Assert.True(fixture.Logs.Count(2002, id) >= 2, "both branches were resolved in doubt");
    }

    [Fact]
    public async Task APreparedBranch_WhoseRollbackWasLost_IsRolledBackByTheRecordedDecision_AndTheTransactionEnds()
    {
        var (from, poor) = await AccountsAsync(100, 10);
        var id = TestHost.Id("lost-rollback");
        var body = new
        {
            transactionId = id,
            timeoutSeconds = 60,
            participants = new object[]
            {
                new { participant = "bank", operation = new { type = "debit", account = from, amount = 30 } },
                new { participant = "bank", operation = new { type = "debit", account = poor, amount = 1000 } },
            },
        };
        Assert.Equal(HttpStatusCode.Accepted, (await Host.StartAsync(body)).StatusCode);

        await Host.DeliverByHandAsync("bank", id, expected: 2, Wait);
        await Host.WaitForStatusAsync(id, Wait, "Aborting", "Aborted");
        await Host.DropCommandsAsync("bank", id, expected: 1, Wait);

        var done = await Host.WaitForStatusAsync(id, Wait, "Aborted");
        Assert.Equal("RolledBack", done.GetProperty("participants")[0].GetProperty("outcome").GetString());
        Assert.Equal("No", done.GetProperty("participants")[1].GetProperty("vote").GetString());
        Assert.Equal((100, 0), await Host.GetAccountAsync(from));
        Assert.Equal((10, 0), await Host.GetAccountAsync(poor));
    }

    [Fact]
    public async Task APreparedBranch_OfATransactionTheCoordinatorHasNoRecordOf_IsPresumedAborted_AndItsHoldReleased()
    {
        var (account, _) = await AccountsAsync(100, 0);
        var id = TestHost.Id("never-recorded");
        var branch = new BranchKey(id, 3);
        Assert.Equal(Vote.Yes, (await Host.Bank().PrepareAsync(branch, Debit(account, 30))).Vote);
        Assert.Equal((100, 30), await Host.GetAccountAsync(account));

        await Eventually.WaitAsync(async () => await Host.GetAccountAsync(account) == (100, 0), Wait, "the hold released by a presumed-abort rollback");

        var recorded = await Host.Decisions.GetAsync(id);
        Assert.Equal(Decision.Abort, recorded!.Decision);
        Assert.Contains("presumed abort", recorded.Reason, StringComparison.Ordinal);
        var record = await Host.Bank().Table.GetEntityAsync<TableEntity>(account, TableResourceManager<BankOperation>.RecordKey(branch));
        Assert.Equal(nameof(BranchPhase.RolledBack), record.Value.GetString("Phase"));
        Assert.True(fixture.Logs.Count(2003, id) >= 1, "the presumed abort was logged");
        Assert.Equal(HttpStatusCode.NotFound, (await Host.Client.GetAsync($"/api/transactions/{id}")).StatusCode);
    }

    [Fact]
    public async Task APreparedBranch_WhileItsTransactionIsStillPreparing_KeepsWaiting_UntilADecisionIsRecorded()
    {
        var (account, _) = await AccountsAsync(100, 0);
        var id = TestHost.Id("still-preparing");
        Assert.Equal(HttpStatusCode.Accepted, (await Host.StartAsync(WithGhost(id, account, timeoutSeconds: 3600))).StatusCode);
        await Host.DeliverByHandAsync("bank", id, expected: 1, Wait);

        // Resolved twice, and left held both times: the orchestration may still decide.
        await Eventually.WaitAsync(() => Task.FromResult(fixture.Logs.Count(2002, id) >= 2), Wait, "two in-doubt passes over the branch");
        Assert.Equal((100, 30), await Host.GetAccountAsync(account));
        Assert.Null(await Host.Decisions.GetAsync(id));
        Assert.Equal("Preparing", (await Host.GetStatusAsync(id)).GetProperty("status").GetString());

        Assert.Equal(HttpStatusCode.Accepted, (await Host.Client.PostAsync($"/api/transactions/{id}/abort", null)).StatusCode);

        await Eventually.WaitAsync(async () => await Host.GetAccountAsync(account) == (100, 0), Wait, "the hold released by the recorded Abort");
        Assert.Equal(nameof(BranchPhase.RolledBack), Assert.Single(await Host.BankRecordsAsync(id)).Phase);
        await Host.WaitForStatusAsync(id, s => s.GetProperty("decision").GetString() == "Abort", Wait, "Abort decided");
    }

    [Fact]
    public async Task APreparedBranch_WhoseOrchestrationIsStuckPastTheVoteDeadline_IsPresumedAborted()
    {
        var (account, _) = await AccountsAsync(100, 0);
        var id = TestHost.Id("stuck");
        Assert.Equal(HttpStatusCode.Accepted, (await Host.StartAsync(WithGhost(id, account, timeoutSeconds: 5))).StatusCode);

        // Suspended before its deadline, the orchestration cannot decide; the bank branch is prepared meanwhile.
        await Eventually.WaitAsync(async () => (await Host.PeekAsync(HostHelpers.BankInbox)).Any(m => m.Contains(id, StringComparison.Ordinal)), Wait, "the prepare sent");
        await Host.Durable().SuspendInstanceAsync(id, "test: a coordinator that cannot decide");
        await Eventually.WaitAsync(async () => (await Host.Durable().GetInstanceAsync(id))?.RuntimeStatus == OrchestrationRuntimeStatus.Suspended, Wait, "the orchestration suspended");
        await Host.DeliverByHandAsync("bank", id, expected: 1, Wait);
        Assert.Equal((100, 30), await Host.GetAccountAsync(account));

        await Eventually.WaitAsync(async () => await Host.GetAccountAsync(account) == (100, 0), Wait, "the hold released by a presumed abort");
        var recorded = await Host.Decisions.GetAsync(id);
        Assert.Equal(Decision.Abort, recorded!.Decision);
        Assert.Contains("vote deadline passed", recorded.Reason, StringComparison.Ordinal);

        // Resumed, the orchestration carries out the same decision.
        await Host.Durable().ResumeInstanceAsync(id, "test over");
        var status = await Host.WaitForStatusAsync(id, Wait, "Aborting", "Aborted");
        Assert.Equal("Abort", status.GetProperty("decision").GetString());
    }

    [Fact]
    public async Task AnInquiryFromARemoteParticipant_IsAnsweredWithTheDecidedCommandInItsInbox()
    {
        // "ghost" plays a participant hosted elsewhere: it reads its inbox and answers on tx-coordinator.
        var id = TestHost.Id("inquiry");
        Assert.Equal(HttpStatusCode.Accepted, (await Host.StartAsync(TwoGhosts(id, 60))).StatusCode);
        var prepares = await TakeGhostCommandsAsync(id, MessageKind.Prepare, 2);
        foreach (var prepare in prepares)
        {
            await ReplyAsync(new ProtocolMessage(MessageKind.Vote, id) { Branch = prepare.Branch, Participant = Ghost, Vote = Vote.Yes });
        }

        await Host.WaitForStatusAsync(id, Wait, "Committing");
        await TakeGhostCommandsAsync(id, MessageKind.Commit, 2); // lost on the way
        var branch0 = prepares.Single(p => p.Branch == 0);

        await ReplyAsync(new ProtocolMessage(MessageKind.Inquiry, id) { Branch = 0, Participant = Ghost, Operation = branch0.Operation });

        var answer = Assert.Single(await TakeGhostCommandsAsync(id, MessageKind.Commit, 1));
        Assert.Equal((0, Ghost, branch0.Operation), (answer.Branch, answer.Participant, answer.Operation));
        foreach (var b in new[] { 0, 1 })
        {
            await ReplyAsync(new ProtocolMessage(MessageKind.Ack, id) { Branch = b, Participant = Ghost, Outcome = BranchOutcome.Committed });
        }

        await Host.WaitForStatusAsync(id, Wait, "Committed");
    }

    [Fact]
    public async Task AnInquiryAboutATransactionTheCoordinatorHasNoRecordOf_IsAnsweredWithRollback_AndAbortIsRecorded()
    {
        var id = TestHost.Id("inquiry-unknown");
        const string operation = """{"anything":true}""";

        await ReplyAsync(new ProtocolMessage(MessageKind.Inquiry, id) { Branch = 2, Participant = Ghost, Operation = operation });

        var answer = Assert.Single(await TakeGhostCommandsAsync(id, MessageKind.Rollback, 1));
        Assert.Equal((2, Ghost, operation), (answer.Branch, answer.Participant, answer.Operation));
        var recorded = await Host.Decisions.GetAsync(id);
        Assert.Equal(Decision.Abort, recorded!.Decision);
        Assert.Contains("presumed abort", recorded.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AnInquiryAboutATransactionStillPreparing_IsNotAnswered_AndDecidesNothing()
    {
        var id = TestHost.Id("inquiry-early");
        Assert.Equal(HttpStatusCode.Accepted, (await Host.StartAsync(TwoGhosts(id, 3600))).StatusCode);
        var prepares = await TakeGhostCommandsAsync(id, MessageKind.Prepare, 2);

        await ReplyAsync(new ProtocolMessage(MessageKind.Inquiry, id) { Branch = 0, Participant = Ghost, Operation = prepares[0].Operation });

        // A message leaves the queue only once its function returned: then the inquiry has been handled.
        await Eventually.WaitAsync(async () => await Host.CountAsync(QueueNames.Coordinator) == 0, Wait, "the inquiry handled");
        Assert.DoesNotContain(await Host.PeekAsync(QueueNames.Participant(Ghost)), m => m.Contains(id, StringComparison.Ordinal));
        Assert.Null(await Host.Decisions.GetAsync(id));
        Assert.Equal("Preparing", (await Host.GetStatusAsync(id)).GetProperty("status").GetString());
    }

    [Fact]
    public async Task ListPrepared_ReturnsOnlyBranchesStillPrepared_PreparedBeforeTheBound_WithTheirOperation()
    {
        // A table of its own: the resolver of the host never sees these branches.
        var table = Host.Table("ListPrepared" + TestNames.UniquePrefix());
        var bank = new BankResourceManager(table);
        await bank.EnsureCreatedAsync();
        await bank.SetAsync("alice", 100);
        var debit30 = Debit("alice", 30);
        await bank.PrepareAsync(new BranchKey("held", 0), debit30);
        await bank.PrepareAsync(new BranchKey("refused", 0), Debit("alice", 1000));
        await bank.PrepareAsync(new BranchKey("committed", 1), debit30);
        await bank.CommitAsync(new BranchKey("committed", 1), debit30);
        await bank.RollbackAsync(new BranchKey("rolled-back-first", 2), debit30);

        var now = DateTimeOffset.UtcNow;
        var listed = await bank.ListPreparedAsync(now.AddMinutes(1), 100);
        var none = await bank.ListPreparedAsync(now.AddMinutes(-1), 100);

        var only = Assert.Single(listed);
        Assert.Equal(new BranchKey("held", 0), only.Branch);
        Assert.Equal(debit30, only.Operation);
        Assert.InRange(only.PreparedAt, now.AddMinutes(-1), now);
        Assert.Empty(none);
    }

    private async Task<(string A, string B)> AccountsAsync(long a, long b)
    {
        var (first, second) = (TestHost.Id("a"), TestHost.Id("b"));
        await Host.PutAccountOrFailAsync(first, a);
        await Host.PutAccountOrFailAsync(second, b);
        return (first, second);
    }

    private static string Debit(string account, long amount) => $$"""{"type":"debit","account":"{{account}}","amount":{{amount}}}""";

    /// <summary>A debit of 30 on <paramref name="account"/> and a branch of <c>ghost</c>, which never votes by itself.</summary>
    private static object WithGhost(string id, string account, int timeoutSeconds) => new
    {
        transactionId = id,
        timeoutSeconds,
        participants = new object[]
        {
            new { participant = "bank", operation = new { type = "debit", account, amount = 30 } },
            new { participant = Ghost, operation = new { step = 1 } },
        },
    };

    private static object TwoGhosts(string id, int timeoutSeconds) => new
    {
        transactionId = id,
        timeoutSeconds,
        participants = new object[]
        {
            new { participant = Ghost, operation = new { step = 0 } },
            new { participant = Ghost, operation = new { step = 1 } },
        },
    };

    /// <summary>A remote participant's message to the coordinator, signed as one must be.</summary>
    private Task ReplyAsync(ProtocolMessage message) => Host.Queue(QueueNames.Coordinator).SendMessageAsync(Host.CodecOf(message.Participant!).Encode(message));

    /// <summary>Takes (receives and deletes) <paramref name="count"/> commands of one kind for <paramref name="id"/> from the inbox of <c>ghost</c>.</summary>
    private async Task<IReadOnlyList<ProtocolMessage>> TakeGhostCommandsAsync(string id, MessageKind kind, int count)
    {
        var queue = Host.Queue(QueueNames.Participant(Ghost));
        var taken = new List<ProtocolMessage>();
        await Eventually.WaitAsync(
            async () =>
            {
                if (!await queue.ExistsAsync())
                {
                    return false;
                }

                foreach (var message in (await queue.ReceiveMessagesAsync(32, TimeSpan.FromSeconds(1))).Value)
                {
                    if (Host.CodecOf(Ghost).TryDecode(message.Body.ToString(), out var command, out _) && command!.TransactionId == id && command.Kind == kind)
                    {
                        taken.Add(command);
                        await queue.DeleteMessageAsync(message.MessageId, message.PopReceipt);
                    }
                }

                return taken.Count >= count;
            },
            Wait,
            $"{count} {kind} commands of {id} in the inbox of {Ghost}");
        return [.. taken.OrderBy(c => c.Branch)];
    }
}
