using System.Security.Cryptography;
using System.Text;
using Azure.Data.Tables;
using Azure.Storage.Queues;
using Microsoft.Extensions.DependencyInjection;
using Serverless.Core.Messaging;
using Serverless.Core.Participants;
using Serverless.Core.Protocol;
using Serverless.Runtime.Participants;
using Serverless.Runtime.Samples;
using Serverless.Runtime.Storage;
using Serverless.Testing;

namespace Serverless.Resilience.Tests;

/// <summary>
/// Hostile queue messages, with signing on: malformed, truncated, of an unknown version, forged, or not even base64.
/// Each is moved to <c>{queue}-poison</c> at once (well within one message lease) and never acted on, and the
/// listener keeps working.
/// </summary>
[Collection(AzuriteCollection.Name)]
public sealed class HostileQueueMessageTests(AzuriteFixture azurite)
{
    private const string Key = "resilience-signing-key";
    private const string Debit = """{"type":"debit","account":"alice","amount":50}""";

    /// <summary>Well within the default 30 s message lease: a message that escaped the codec would take five leases to be poisoned.</summary>
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(20);

    /// <summary>Name → the text put on the bank's inbox (base64-encoded, as our producers do).</summary>
    private static readonly Dictionary<string, string> Messages = new()
    {
        ["a signed prepare cut in half"] = Signed(PrepareBody("tx-cut"))[..(Signed(PrepareBody("tx-cut")).Length / 2)],
        ["a signed prepare without its last character"] = Signed(PrepareBody("tx-cut1"))[..^1],
        ["a correctly signed prepare of version 2"] = Signed(PrepareBody("tx-v2").Replace("\"v\":1", "\"v\":2", StringComparison.Ordinal)),
        ["a correctly signed prepare of version 0"] = Signed(PrepareBody("tx-v0").Replace("\"v\":1", "\"v\":0", StringComparison.Ordinal)),
        ["a correctly signed prepare without a version"] = Signed(PrepareBody("tx-nov").Replace("\"v\":1,", "", StringComparison.Ordinal)),
        ["a correctly signed prepare whose version is a string"] = Signed(PrepareBody("tx-vs").Replace("\"v\":1", "\"v\":\"1\"", StringComparison.Ordinal)),
        ["a correctly signed prepare whose version is 1e400"] = Signed(PrepareBody("tx-vh").Replace("\"v\":1", "\"v\":1e400", StringComparison.Ordinal)),
        ["a signed prepare altered after signing"] = Signed(PrepareBody("tx-alt")).Replace("\"amount\":50", "\"amount\":5", StringComparison.Ordinal),
        ["a prepare signed with another key"] = Signed(PrepareBody("tx-key"), "another-key"),
        ["an unsigned prepare"] = $$"""{"body":{{PrepareBody("tx-unsigned")}}}""",
        ["a prepare with a signature that is not base64"] = $$"""{"body":{{PrepareBody("tx-sig")}},"sig":"!!!"}""",
        ["a signed prepare with a lone surrogate in its transaction id"] = Signed(PrepareBody("tx-\\ud800")),
        ["a signed prepare whose branch is a string"] = Signed(PrepareBody("tx-bs").Replace("\"branch\":0", "\"branch\":\"0\"", StringComparison.Ordinal)),
        ["a signed prepare whose branch is 1e400"] = Signed(PrepareBody("tx-bh").Replace("\"branch\":0", "\"branch\":1e400", StringComparison.Ordinal)),
        ["a signed prepare whose operation is a string"] = Signed(PrepareBody("tx-os").Replace(Debit, "\"debit\"", StringComparison.Ordinal)),
        ["a signed prepare of an unknown kind"] = Signed(PrepareBody("tx-kind").Replace("\"Prepare\"", "\"Reserve\"", StringComparison.Ordinal)),
        ["a signed prepare addressed to another participant"] = Signed(PrepareBody("tx-other").Replace("\"bank\"", "\"inventory\"", StringComparison.Ordinal)),
        ["a signed vote sent to a participant"] = Signed("""{"v":1,"kind":"Vote","tx":"tx-vote","branch":0,"vote":"Yes"}"""),
        ["a signed message nested 100 deep"] = Signed(PrepareBody("tx-deep").Replace(Debit, Debit[..^1] + ",\"x\":" + new string('[', 100) + new string(']', 100) + "}", StringComparison.Ordinal)),
        ["a signed message with two bodies"] = Signed(PrepareBody("tx-two")).Replace("{\"body\":", "{\"body\":{},\"body\":", StringComparison.Ordinal),
        ["an empty JSON object"] = "{}",
        ["a JSON array"] = "[]",
        ["not JSON"] = "prepare alice 50",
    };

    public static TheoryData<string> MessageCases => [.. Messages.Keys];

    [Theory]
    [MemberData(nameof(MessageCases))]
    public async Task AHostileCommand_IsPoisonedAtOnce_NeverActedOn_AndTheParticipantKeepsWorking(string name)
    {
        await using var app = await StartAsync();
        var text = Messages[name];

        await app.Transport.SendAsync(app.Names.ParticipantQueue("bank"), text);

        var poison = StorageNames.PoisonQueue(app.Names.ParticipantQueue("bank"));
        await Eventually.WaitAsync(async () => await app.CountAsync(poison) == 1, Wait, $"{name} poisoned");
        var kept = (await app.Transport.Queue(poison).PeekMessagesAsync(1)).Value[0].Body.ToString();
        Assert.Equal(text, kept);
        await AssertNothingHeldAndStillWorkingAsync(app);
    }

    [Fact]
    public async Task ARawMessageThatIsNotBase64_IsMovedToThePoisonQueueUnread_EvenWhenItIsCorrectlySigned()
    {
        await using var app = await StartAsync();
        var text = Signed(PrepareBody("tx-raw"));
        var raw = new QueueClient(azurite.ConnectionString, app.Names.ParticipantQueue("bank"), new QueueClientOptions { MessageEncoding = QueueMessageEncoding.None });

        await raw.SendMessageAsync(text);

        var poison = StorageNames.PoisonQueue(app.Names.ParticipantQueue("bank"));
        await Eventually.WaitAsync(async () => await app.CountAsync(poison) == 1, Wait, "the raw message poisoned");
        Assert.Equal(text, (await app.Transport.Queue(poison).PeekMessagesAsync(1)).Value[0].Body.ToString());
        Assert.Equal(0, await app.CountAsync(app.Names.ParticipantQueue("bank")));
        Assert.True(app.Logs.Count(4000, app.Names.ParticipantQueue("bank")) >= 1, "the undecodable message was logged");
        await AssertNothingHeldAndStillWorkingAsync(app);
    }

    [Fact]
    public async Task ARawMessageOfBinaryGarbage_IsPoisoned()
    {
        await using var app = await StartAsync();
        var raw = new QueueClient(azurite.ConnectionString, app.Names.ParticipantQueue("bank"), new QueueClientOptions { MessageEncoding = QueueMessageEncoding.Base64 });

        await raw.SendMessageAsync(new BinaryData(new byte[] { 0xFF, 0xFE, 0x00, 0xC0, 0xAF, 0xED, 0xA0, 0x80 }));

        await Eventually.WaitAsync(async () => await app.CountAsync(StorageNames.PoisonQueue(app.Names.ParticipantQueue("bank"))) == 1, Wait, "the garbage poisoned");
        await AssertNothingHeldAndStillWorkingAsync(app);
    }

    [Fact]
    public async Task APrepareWhoseOperationIsNotValidUnicode_VotesNoAtOnce_InsteadOfFailingUntilPoisoned()
    {
        // Unsigned, so the message itself is trusted: the participant must still treat the bad text as a bad operation.
        await using var app = await StartAndSeedAsync(new Dictionary<string, string?> { ["TRANSACTIONS_IN_DOUBT_SECONDS"] = "3600" });
        var tx = TestApp.Id("bad-unicode");
        var text = "{\"body\":{\"v\":1,\"kind\":\"Prepare\",\"tx\":\"" + tx + "\",\"branch\":0,\"participant\":\"bank\",\"operation\":{\"type\":\"debit\",\"account\":\"\\ud800\",\"amount\":1}}}";

        await app.Transport.SendAsync(app.Names.ParticipantQueue("bank"), text);

        await Eventually.WaitAsync(() => Task.FromResult(app.Logs.Count(1007, tx) == 1), Wait, "the No vote reaching the coordinator");
        Assert.Equal(0, await app.CountAsync(app.Names.ParticipantQueue("bank")));
        Assert.Equal(0, await app.CountAsync(StorageNames.PoisonQueue(app.Names.ParticipantQueue("bank"))));
        Assert.Equal(0, app.Logs.Count(3001, tx));
        await AssertNothingHeldAndStillWorkingAsync(app);
    }

    [Fact]
    public async Task AForgedInquiry_CannotMakeTheCoordinatorRollBackAPreparedBranch()
    {
        await using var app = await StartAsync();
        var branch = new BranchKey("tx-inquired", 0);
        await Bank(app).PrepareAsync(branch, Debit);
        var forged = new MessageCodec("another-key"u8.ToArray()).Encode(
            new ProtocolMessage(MessageKind.Inquiry, branch.TransactionId) { Branch = 0, Participant = "bank", Operation = Debit });

        await app.Transport.SendAsync(app.Names.CoordinatorQueue, forged);

        await Eventually.WaitAsync(async () => await app.CountAsync(StorageNames.PoisonQueue(app.Names.CoordinatorQueue)) == 1, Wait, "the forged inquiry poisoned");
        Assert.Equal(0, await app.CountAsync(app.Names.CoordinatorQueue));
        Assert.Equal(0, await app.CountAsync(app.Names.ParticipantQueue("bank")));
        Assert.Equal((100, 50), await app.GetAccountAsync("alice"));
    }

    private Task<TestApp> StartAsync() =>
        StartAndSeedAsync(new Dictionary<string, string?> { ["TRANSACTIONS_SIGNING_KEY"] = Key, ["TRANSACTIONS_IN_DOUBT_SECONDS"] = "3600" });

    private async Task<TestApp> StartAndSeedAsync(Dictionary<string, string?> settings)
    {
        var app = await TestApp.StartAsync(azurite.ConnectionString, settings);
        await app.PutAccountAsync("alice", 100);
        await app.PutAccountAsync("bob", 0);
        return app;
    }

    private static BankResourceManager Bank(TestApp app) => app.Services.GetRequiredService<BankResourceManager>();

    /// <summary>No hold and no branch record were made, and a real transfer still goes through.</summary>
    private static async Task AssertNothingHeldAndStillWorkingAsync(TestApp app)
    {
        Assert.Equal((100, 0), await app.GetAccountAsync("alice"));
        var records = Bank(app).Table.QueryAsync<TableEntity>(TableClient.CreateQueryFilter($"PartitionKey eq {"alice"} and RowKey ge {"tx|"} and RowKey lt {"tx}"}"));
        Assert.Empty(await records.ToListAsync());

        var response = await app.Client.PostAsync(
            "/api/transactions?waitSeconds=20",
            new StringContent(System.Text.Json.JsonSerializer.Serialize(TestApp.Transfer(TestApp.Id("after"), "alice", "bob", 1)), Encoding.UTF8, "application/json"));
        Assert.Equal(System.Net.HttpStatusCode.OK, response.StatusCode);
        Assert.Equal((99, 0), await app.GetAccountAsync("alice"));
    }

    private static string PrepareBody(string tx) =>
        $$"""{"v":1,"kind":"Prepare","tx":"{{tx}}","branch":0,"participant":"bank","operation":{{Debit}}}""";

    /// <summary>The wire form with a correct HMAC of exactly <paramref name="body"/>, whatever it says.</summary>
    private static string Signed(string body, string key = Key) =>
        $$"""{"body":{{body}},"sig":"{{Convert.ToBase64String(HMACSHA256.HashData(Encoding.UTF8.GetBytes(key), Encoding.UTF8.GetBytes(body)))}}"}""";
}
