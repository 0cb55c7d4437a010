using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Azure.Storage.Queues;
using Serverless.Core.Messaging;
using Serverless.Core.Participants;
using Serverless.Core.Protocol;
using Serverless.Functions.Storage;
using Serverless.Testing;

namespace Serverless.Resilience.Tests;

/// <summary>
/// A host whose failing queue messages are retried quickly: at most <see cref="MaxDequeueCount"/> deliveries (host.json
/// <c>extensions.queues.maxDequeueCount</c>, overridden the Functions way), visible again at once after a failure.
/// </summary>
public sealed class QueueHostFixture : LoggedHostFixture
{
    public const int MaxDequeueCount = 3;

    protected override IReadOnlyDictionary<string, string?> Settings() => new Dictionary<string, string?>
    {
        ["AzureFunctionsJobHost:extensions:queues:maxDequeueCount"] = MaxDequeueCount.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["AzureFunctionsJobHost:extensions:queues:visibilityTimeout"] = "00:00:00",

        // No in-doubt resolution during these tests: branches prepared by hand must stay as the test left them.
        ["TRANSACTIONS_IN_DOUBT_SECONDS"] = "3600",
    };
}

/// <summary>
/// Hostile queue messages, with signing on: unsigned, forged, malformed, truncated, oversized, of the wrong kind, or
/// addressed to another participant. Each is moved to <c>{queue}-poison</c> and never acted on (no branch record, no
/// hold, no event on the transaction it names), and the listener keeps working.
/// </summary>
/// <remarks>
/// Each test names a transaction of its own, running with two <c>ghost</c> branches (a participant nobody runs), so that
/// only a hostile message acted on could raise an event on it, and an account of its own. The tests of this class run one
/// after another on one host; each empties the poison queue it looks at first.
/// </remarks>
public sealed class HostileQueueMessageTests(QueueHostFixture fixture) : IClassFixture<QueueHostFixture>
{
    private const string Coordinator = QueueNames.Coordinator;
    private const string Bank = HostHelpers.BankInbox;
    private const string Inventory = QueueNames.ParticipantPrefix + "inventory";

    /// <summary>Well within one message lease: a message that escaped the codec would fail until it is poisoned much later.</summary>
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    /// <summary>Name → the queue and the text put on it (base64-encoded, as our producers do), for a target transaction and account.</summary>
    private static readonly Dictionary<string, (string Queue, Func<Target, string> Text)> Messages = new()
    {
        ["a signed prepare cut in half"] = (Bank, t => Signed(Prepare(t))[..(Signed(Prepare(t)).Length / 2)]),
        ["a signed prepare without its last character"] = (Bank, t => Signed(Prepare(t))[..^1]),
        ["a correctly signed prepare of version 2"] = (Bank, t => Signed(Prepare(t).Replace("\"v\":1", "\"v\":2", StringComparison.Ordinal))),
        ["a correctly signed prepare of version 0"] = (Bank, t => Signed(Prepare(t).Replace("\"v\":1", "\"v\":0", StringComparison.Ordinal))),
        ["a correctly signed prepare without a version"] = (Bank, t => Signed(Prepare(t).Replace("\"v\":1,", "", StringComparison.Ordinal))),
        ["a correctly signed prepare whose version is a string"] = (Bank, t => Signed(Prepare(t).Replace("\"v\":1", "\"v\":\"1\"", StringComparison.Ordinal))),
        ["a correctly signed prepare whose version is 1e400"] = (Bank, t => Signed(Prepare(t).Replace("\"v\":1", "\"v\":1e400", StringComparison.Ordinal))),
        ["a signed prepare altered after signing"] = (Bank, t => Signed(Prepare(t)).Replace("\"amount\":50", "\"amount\":5", StringComparison.Ordinal)),
        ["a prepare signed with another key"] = (Bank, t => Signed(Prepare(t), TestHost.WrongKey)),
        ["an unsigned prepare"] = (Bank, t => $$"""{"body":{{Prepare(t)}}}"""),
        ["a prepare with a signature that is not base64"] = (Bank, t => $$"""{"body":{{Prepare(t)}},"sig":"!!!"}"""),
        ["a prepare with a signature of the wrong length"] = (Bank, t => $$"""{"body":{{Prepare(t)}},"sig":"AAAA"}"""),
        ["a signed prepare with a lone surrogate in its transaction id"] = (Bank, t => Signed(Prepare(t with { Tx = t.Tx + "\\ud800" }))),
        ["a signed prepare whose branch is a string"] = (Bank, t => Signed(Prepare(t).Replace("\"branch\":0", "\"branch\":\"0\"", StringComparison.Ordinal))),
        ["a signed prepare whose branch is 1e400"] = (Bank, t => Signed(Prepare(t).Replace("\"branch\":0", "\"branch\":1e400", StringComparison.Ordinal))),
        ["a signed prepare whose branch is negative"] = (Bank, t => Signed(Prepare(t).Replace("\"branch\":0", "\"branch\":-1", StringComparison.Ordinal))),
        ["a signed prepare without a branch"] = (Bank, t => Signed(Prepare(t).Replace("\"branch\":0,", "", StringComparison.Ordinal))),
        ["a signed prepare whose operation is a string"] = (Bank, t => Signed(Prepare(t).Replace(Debit(t), "\"debit\"", StringComparison.Ordinal))),
        ["a signed prepare with a duplicate property"] = (Bank, t => Signed(Prepare(t).Replace("\"amount\":50", "\"amount\":5,\"amount\":50", StringComparison.Ordinal))),
        ["a signed message with two bodies"] = (Bank, t => Signed(Prepare(t)).Replace("{\"body\":", "{\"body\":{},\"body\":", StringComparison.Ordinal)),
        ["a signed message nested 100 deep"] = (Bank, t => Signed(Prepare(t).Replace(Debit(t), Debit(t)[..^1] + ",\"x\":" + new string('[', 100) + new string(']', 100) + "}", StringComparison.Ordinal))),
        ["a signed prepare of an unknown kind"] = (Bank, t => Signed(Prepare(t).Replace("\"Prepare\"", "\"Reserve\"", StringComparison.Ordinal))),
        ["a signed vote sent to a participant"] = (Bank, t => Signed($$"""{"v":1,"kind":"Vote","tx":"{{t.Tx}}","branch":0,"vote":"Yes"}""")),
        ["a signed inquiry sent to a participant"] = (Bank, t => Signed(Prepare(t).Replace("\"Prepare\"", "\"Inquiry\"", StringComparison.Ordinal))),
        ["a signed prepare for inventory in the inbox of bank"] = (Bank, t => Signed(Prepare(t).Replace("\"participant\":\"bank\"", "\"participant\":\"inventory\"", StringComparison.Ordinal))),
        ["a signed rollback for bank in the inbox of inventory"] = (Inventory, t => Signed(Prepare(t).Replace("\"Prepare\"", "\"Rollback\"", StringComparison.Ordinal))),
        ["an unsigned prepare as large as a queue message can be"] = (Bank, t => $$"""{"body":{{Prepare(t).Replace(Debit(t), Debit(t)[..^1] + ",\"pad\":\"" + new string('x', 47_000) + "\"}", StringComparison.Ordinal)}}}"""),
        ["a forged prepare as large as a queue message can be"] = (Bank, t => Signed(Prepare(t).Replace(Debit(t), Debit(t)[..^1] + ",\"pad\":\"" + new string('x', 47_000) + "\"}", StringComparison.Ordinal), "another-key")),
        ["an empty JSON object"] = (Bank, _ => "{}"),
        ["a JSON array"] = (Bank, _ => "[]"),
        ["not JSON"] = (Bank, t => $"prepare {t.Account} 50"),
        ["a vote signed with another key, to the coordinator"] = (Coordinator, t => Signed(VoteBody(t), "another-key")),
        ["an unsigned vote, to the coordinator"] = (Coordinator, t => $$"""{"body":{{VoteBody(t)}}}"""),
        ["a signed vote cut short, to the coordinator"] = (Coordinator, t => Signed(VoteBody(t))[..^2]),
        ["a signed vote of version 2, to the coordinator"] = (Coordinator, t => Signed(VoteBody(t).Replace("\"v\":1", "\"v\":2", StringComparison.Ordinal))),
        ["a signed vote without its vote, to the coordinator"] = (Coordinator, t => Signed(VoteBody(t).Replace(",\"vote\":\"Yes\"", "", StringComparison.Ordinal))),
        ["an ack signed with another key, to the coordinator"] = (Coordinator, t => Signed($$"""{"v":1,"kind":"Ack","tx":"{{t.Tx}}","branch":0,"outcome":"Committed"}""", "another-key")),
        ["a signed prepare sent to the coordinator"] = (Coordinator, t => Signed(Prepare(t))),
        ["a signed commit sent to the coordinator"] = (Coordinator, t => Signed(Prepare(t).Replace("\"Prepare\"", "\"Commit\"", StringComparison.Ordinal))),
        ["not JSON, to the coordinator"] = (Coordinator, t => $"vote {t.Tx} yes"),
    };

    public static TheoryData<string> MessageCases => [.. Messages.Keys];

    [Theory]
    [MemberData(nameof(MessageCases))]
    public async Task AHostileMessage_IsPoisoned_NeverActedOn_AndTheListenerKeepsWorking(string name)
    {
        var host = fixture.Host;
        var (queue, make) = Messages[name];
        var target = await StartTargetAsync("hostile");
        var text = make(target);
        await host.ClearAsync(QueueNames.Poison(queue));

        await host.Queue(queue).SendMessageAsync(text);

        await host.WaitForPoisonAsync(queue, text, Wait);
        Assert.Equal(0, await host.CountAsync(queue));
        await AssertNotActedOnAsync(target);
        await AssertStillWorkingAsync(target);
    }

    [Fact]
    public async Task ARawMessageThatIsNotBase64_IsMovedToThePoisonQueueUnread_EvenWhenItIsCorrectlySigned()
    {
        var host = fixture.Host;
        var target = await StartTargetAsync("raw");
        var text = Signed(Prepare(target));
        var raw = new QueueClient(host.ConnectionString, Bank, new QueueClientOptions { MessageEncoding = QueueMessageEncoding.None });
        await host.ClearAsync(QueueNames.Poison(Bank));

        await raw.SendMessageAsync(text);

        await host.WaitForPoisonAsync(Bank, text, Wait);
        Assert.Equal(0, await host.CountAsync(Bank));
        // The transport logs it just after the poison queue has it.
        await Eventually.WaitAsync(() => Task.FromResult(fixture.Logs.Count(5106, Bank) >= 1), Wait, "the undecodable message logged");
        await AssertNotActedOnAsync(target);
        await AssertStillWorkingAsync(target);
    }

    [Fact]
    public async Task ARawMessageOfBinaryGarbage_IsPoisoned()
    {
        var host = fixture.Host;
        var target = await StartTargetAsync("garbage");
        await host.ClearAsync(QueueNames.Poison(Bank));

        await host.Queue(Bank).SendMessageAsync(new BinaryData(new byte[] { 0xFF, 0xFE, 0x00, 0xC0, 0xAF, 0xED, 0xA0, 0x80 }));

        await Eventually.WaitAsync(async () => await host.CountAsync(QueueNames.Poison(Bank)) == 1, Wait, "the garbage poisoned");
        await AssertStillWorkingAsync(target);
    }

    [Fact]
    public async Task AMessageWhoseHandlingKeepsFailing_IsPoisonedAfterMaxDequeueCountDeliveries()
    {
        // A branch prepared by hand whose account then disappears: its commit fails every time ("the resource it holds is missing").
        var host = fixture.Host;
        var target = await StartTargetAsync("failing");
        var branch = new BranchKey(target.Tx, 0);
        Assert.Equal(Vote.Yes, (await host.Bank().PrepareAsync(branch, Debit(target))).Vote);
        await host.Bank().Table.DeleteEntityAsync(target.Account, "account");
        var text = host.CodecOf("bank").Encode(new ProtocolMessage(MessageKind.Commit, target.Tx) { Branch = 0, Participant = "bank", Operation = Debit(target) });
        await host.ClearAsync(QueueNames.Poison(Bank));

        var sent = (await host.Queue(Bank).SendMessageAsync(text)).Value;

        await host.WaitForPoisonAsync(Bank, text, TimeSpan.FromSeconds(30));
        Assert.Equal(QueueHostFixture.MaxDequeueCount, fixture.Logs.Count(5101, sent.MessageId));
        Assert.Equal(1, fixture.Logs.Count(5100, sent.MessageId));
        Assert.Equal(0, await host.CountAsync(Bank));
        Assert.Equal([(target.Account, "Prepared")], (await host.BankRecordsAsync(target.Tx)).Select(r => (r.Account, r.Phase)));
    }

    [Fact]
    public async Task APrepareWhoseOperationIsNotValidUnicode_VotesNoAtOnce_InsteadOfFailingUntilPoisoned()
    {
        // Correctly signed with the bank's key, so the message is trusted: the participant must still treat the bad text as a bad operation.
        var host = fixture.Host;
        var target = await StartTargetAsync("bad-unicode");
        var text = Signed(Prepare(target).Replace($"\"account\":\"{target.Account}\"", "\"account\":\"\\ud800\"", StringComparison.Ordinal));
        await host.ClearAsync(QueueNames.Poison(Bank));

        await host.Queue(Bank).SendMessageAsync(text);

        // The bank answers at once with its No, which reaches the orchestration; it counts for no branch there, since branch 0
        // is ghost's and a participant's reply counts only for its own branches.
        await Eventually.WaitAsync(
            () => Task.FromResult(fixture.Logs.Lines.Any(l => l.EventId == 1004 && l.Message.Contains(target.Tx, StringComparison.Ordinal)
                && l.Message.Contains("branch 0 of 'ghost' came from 'bank'", StringComparison.Ordinal))),
            Wait,
            "the bank's vote, taken for no branch");
        Assert.Equal(0, await host.CountAsync(Bank));
        Assert.Equal(0, await host.CountAsync(QueueNames.Poison(Bank)));
        Assert.Equal((100, 0), await host.GetAccountAsync(target.Account));
        var status = await host.GetStatusAsync(target.Tx);
        Assert.Equal("Preparing", status.GetProperty("status").GetString());
        Assert.Equal(JsonValueKind.Null, status.GetProperty("participants")[0].GetProperty("vote").ValueKind);
    }

    [Fact]
    public async Task AForgedInquiry_CannotMakeTheCoordinatorRollBackAPreparedBranch()
    {
        var host = fixture.Host;
        var target = new Target(TestHost.Id("inquired"), TestHost.Id("acct"));
        await host.PutAccountOrFailAsync(target.Account, 100);
        await host.Bank().PrepareAsync(new BranchKey(target.Tx, 0), Debit(target));
        var forged = TestHost.ForgingCodec.Encode(
            new ProtocolMessage(MessageKind.Inquiry, target.Tx) { Branch = 0, Participant = "bank", Operation = Debit(target) });
        await host.ClearAsync(QueueNames.Poison(Coordinator));

        await host.Queue(Coordinator).SendMessageAsync(forged);

        await host.WaitForPoisonAsync(Coordinator, forged, Wait);
        Assert.Equal(0, await host.CountAsync(Coordinator));
        Assert.Null(await host.Decisions.GetAsync(target.Tx));
        Assert.DoesNotContain(await host.PeekAsync(Bank), m => m.Contains(target.Tx, StringComparison.Ordinal));
        Assert.Equal((100, 50), await host.GetAccountAsync(target.Account));
    }

    /// <summary>A transaction of two <c>ghost</c> branches that stays Preparing, and an account with 100.</summary>
    private async Task<Target> StartTargetAsync(string hint)
    {
        var target = new Target(TestHost.Id(hint), TestHost.Id("acct"));
        await fixture.Host.PutAccountOrFailAsync(target.Account, 100);
        using var response = await fixture.Host.StartAsync(new
        {
            transactionId = target.Tx,
            timeoutSeconds = 3600,
            participants = new object[]
            {
                new { participant = "ghost", operation = new { step = 0 } },
                new { participant = "ghost", operation = new { step = 1 } },
            },
        });
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        return target;
    }

    /// <summary>
    /// Nothing happened on account or transaction: no hold, no branch record, no decision, no vote. The vote check waits for a
    /// genuine vote on branch 1 first, raised after the hostile message was handled, so an event it raised would show by then.
    /// </summary>
    private async Task AssertNotActedOnAsync(Target target)
    {
        var host = fixture.Host;
        Assert.Equal((100, 0), await host.GetAccountAsync(target.Account));
        Assert.Empty(await host.BankRecordsAsync(target.Tx));
        Assert.Null(await host.Decisions.GetAsync(target.Tx));

        await host.Queue(Coordinator).SendMessageAsync(host.CodecOf("ghost").Encode(new ProtocolMessage(MessageKind.Vote, target.Tx) { Branch = 1, Participant = "ghost", Vote = Vote.Yes }));
        var status = await host.WaitForStatusAsync(target.Tx, s => s.GetProperty("participants")[1].GetProperty("vote").GetString() == "Yes", Wait, "the genuine vote on branch 1");
        Assert.Equal("Preparing", status.GetProperty("status").GetString());
        Assert.Equal(JsonValueKind.Null, status.GetProperty("participants")[0].GetProperty("vote").ValueKind);
    }

    /// <summary>The bank's inbox still works: a one-phase debit of 1 commits.</summary>
    private async Task AssertStillWorkingAsync(Target target)
    {
        var host = fixture.Host;
        using var response = await host.StartAsync(
            new { participants = new object[] { new { participant = "bank", operation = new { type = "debit", account = target.Account, amount = 1 } } } },
            waitSeconds: 20);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("Committed", (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("status").GetString());
        Assert.Equal((99, 0), await host.GetAccountAsync(target.Account));
    }

    private static string Debit(Target t) => $$"""{"type":"debit","account":"{{t.Account}}","amount":50}""";

    private static string Prepare(Target t) =>
        $$"""{"v":1,"kind":"Prepare","tx":"{{t.Tx}}","branch":0,"participant":"bank","operation":{{Debit(t)}}}""";

    private static string VoteBody(Target t) => $$"""{"v":1,"kind":"Vote","tx":"{{t.Tx}}","branch":0,"participant":"ghost","vote":"Yes"}""";

    /// <summary>
    /// The wire form with a correct HMAC of exactly <paramref name="body"/>, whatever it says, with <paramref name="key"/>, or by
    /// default the key of the participant the body names (the bank's when it names none), as the test host derives it.
    /// </summary>
    private static string Signed(string body, string? key = null)
    {
        key ??= ParticipantKeyring.DeriveKey(TestHost.SigningKey, body.Contains("\"participant\":\"ghost\"", StringComparison.Ordinal) ? "ghost" : "bank");
        return $$"""{"body":{{body}},"kid":"{{MessageCodec.KeyIdOf(Encoding.UTF8.GetBytes(key))}}","sig":"{{Convert.ToBase64String(HMACSHA256.HashData(Encoding.UTF8.GetBytes(key), Encoding.UTF8.GetBytes(body)))}}"}""";
    }

    /// <summary>The transaction a hostile message names, and the account it would debit.</summary>
    private sealed record Target(string Tx, string Account);
}
