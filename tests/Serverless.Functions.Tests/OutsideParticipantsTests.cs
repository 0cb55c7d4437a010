using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Serverless.Core.Messaging;
using Serverless.Core.Protocol;
using Serverless.Testing;

namespace Serverless.Functions.Tests;

/// <summary>
/// Participants outside the coordinator's app, each with its own key, on the real engine: the shipping app (another
/// isolated-worker Functions app on the participant kit, its own PostgreSQL database, as a process of its own), loyalty (an
/// HTTP participant in Node, as a process), and the bank in the coordinator's app, in one transaction.
/// </summary>
public sealed class OutsideParticipantsTests(OutsideParticipantsTests.Fixture fixture) : IClassFixture<OutsideParticipantsTests.Fixture>
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(60);

    private TestHost Host => fixture.Host;

    [Fact]
    public async Task AnOrder_AcrossTheBank_TheShippingApp_AndLoyalty_CommitsAsOne()
    {
        var (id, alice, store, order) = (TestHost.Id("order"), TestHost.Id("alice"), TestHost.Id("store"), TestHost.Id("o"));
        await Host.PutAccountAsync(alice, 100);
        await Host.PutAccountAsync(store, 0);

        var doc = await RunAsync(Order(id, alice, store, order, "1 Harbour Road", points: 30));

        Assert.Equal("Committed", doc.GetProperty("status").GetString());
        Assert.Equal(["Committed", "Committed", "Committed", "Committed"], Outcomes(doc));
        Assert.Equal("tcc", doc.GetProperty("participants")[3].GetProperty("kind").GetString());
        Assert.Equal((70, 0), await Host.GetAccountAsync(alice));
        Assert.Equal((30, 0), await Host.GetAccountAsync(store));
        var shipment = Assert.NotNull(await fixture.Shipping.ShipmentAsync(order));
        Assert.Equal(order, shipment.GetProperty("orderId").GetString());
        Assert.Equal("1 Harbour Road", shipment.GetProperty("address").GetString());
        Assert.Equal("scheduled", shipment.GetProperty("status").GetString());
        Assert.Equal((30L, 0L), await fixture.Loyalty.BalanceAsync(alice));
        Assert.Empty(await fixture.Shipping.PreparedGidsAsync());
    }

    [Fact]
    public async Task AnOrderThatAlreadyShipped_IsRefusedByTheShippingApp_AndNothingChangesAnywhere()
    {
        var (alice, store, order) = (TestHost.Id("alice"), TestHost.Id("store"), TestHost.Id("o"));
        await Host.PutAccountAsync(alice, 100);
        await Host.PutAccountAsync(store, 0);
        Assert.Equal("Committed", (await RunAsync(Order(TestHost.Id("first"), alice, store, order, "1 Harbour Road", points: 5))).GetProperty("status").GetString());

        var second = await RunAsync(Order(TestHost.Id("second"), alice, store, order, "2 Mill Lane", points: 7));

        Assert.Equal("Aborted", second.GetProperty("status").GetString());
        Assert.Equal($"participant 'shipping' voted No: order '{order}' already has a shipment", second.GetProperty("reason").GetString());
        Assert.Equal((70, 0), await Host.GetAccountAsync(alice));
        Assert.Equal("1 Harbour Road", (await fixture.Shipping.ShipmentAsync(order))!.Value.GetProperty("address").GetString());
        Assert.Equal((5L, 0L), await fixture.Loyalty.BalanceAsync(alice));
    }

    [Theory]
    [InlineData("")]
    [InlineData("   ")]
    public async Task AShipmentWithoutAnAddress_IsRefused(string address)
    {
        var doc = await RunAsync(new
        {
            transactionId = TestHost.Id("noaddress"),
            participants = new object[]
            {
                new { participant = "shipping", operation = new { type = "schedule", orderId = TestHost.Id("o"), address } },
                new { participant = "loyalty", kind = "tcc", operation = new { type = "award", customer = "nobody-in-particular", points = 1 } },
            },
        });

        Assert.Equal("Aborted", doc.GetProperty("status").GetString());
        Assert.Contains("participant 'shipping' voted No: order", doc.GetProperty("reason").GetString(), StringComparison.Ordinal);
        Assert.Contains("has no address", doc.GetProperty("reason").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task AShipmentOnlyPrepared_IsNotShown_AndIsRolledBackWhenItsTransactionAborts()
    {
        var (id, order) = (TestHost.Id("held"), TestHost.Id("o"));
        Assert.Equal(HttpStatusCode.Accepted, (await Host.StartAsync(new
        {
            transactionId = id,
            timeoutSeconds = 8,
            participants = new object[]
            {
                new { participant = "shipping", operation = new { type = "schedule", orderId = order, address = "3 Quay Street" } },
                new { participant = "ghost", operation = new { never = "votes" } },
            },
        })).StatusCode);

        await Host.WaitForStatusAsync(id, s => s.GetProperty("participants")[0].GetProperty("vote").GetString() == "Yes", Wait, "shipping's Yes");
        Assert.Single(await fixture.Shipping.PreparedGidsAsync(), gid => gid.Contains(id, StringComparison.Ordinal));
        Assert.Null(await fixture.Shipping.ShipmentAsync(order));

        // The orchestration's deadline timer records the Abort, or, on a loaded machine, the shipping app's inquiry about its
        // prepared branch reaches in-doubt resolution first, which presumes it once the deadline passed: first writer wins.
        var doc = await Host.WaitForStatusAsync(id, Wait, "Aborting", "Aborted");
        Assert.Matches("^(vote deadline passed without a vote from 'ghost'|presumed abort: the vote deadline passed at .* and no decision followed)$", doc.GetProperty("reason").GetString());
        await Host.WaitForStatusAsync(id, s => s.GetProperty("participants")[0].GetProperty("outcome").GetString() == "RolledBack", Wait, "shipping rolled back");
        Assert.DoesNotContain(await fixture.Shipping.PreparedGidsAsync(), gid => gid.Contains(id, StringComparison.Ordinal));
        Assert.Null(await fixture.Shipping.ShipmentAsync(order));
    }

    [Fact]
    public async Task ReplyTakenFromTheCoordinatorsInbox_CountsOnlyForTheBranchesOfTheParticipantWhoseKeySignedIt()
    {
        var id = TestHost.Id("impostor");
        Assert.Equal(HttpStatusCode.Accepted, (await Host.StartAsync(TestHost.TwoGhostBranches(id))).StatusCode);
        var shippingKey = Host.CodecOf("shipping");
        var coordinatorInbox = Host.Queue(QueueNames.Coordinator);

        // Signed by shipping in ghost's name: it does not verify with ghost's key, and is poisoned.
        var forged = shippingKey.Encode(new ProtocolMessage(MessageKind.Vote, id) { Branch = 0, Participant = "ghost", Vote = Vote.No, Reason = "forged" });
        await coordinatorInbox.SendMessageAsync(forged);

        // Signed by shipping in its own name, about ghost's branch: verified, raised, and rejected by the orchestration.
        await coordinatorInbox.SendMessageAsync(shippingKey.Encode(new ProtocolMessage(MessageKind.Vote, id) { Branch = 0, Participant = "shipping", Vote = Vote.No, Reason = "not mine" }));
        await Eventually.WaitAsync(() => Task.FromResult(fixture.Logs.Count(1004, "branch 0 of 'ghost' came from 'shipping'") > 0), Wait, "the orchestration rejecting shipping's vote on ghost's branch");

        // ghost's own vote on its other branch counts, which shows both messages above were handled before it.
        await coordinatorInbox.SendMessageAsync(Host.CodecOf("ghost").Encode(new ProtocolMessage(MessageKind.Vote, id) { Branch = 1, Participant = "ghost", Vote = Vote.Yes }));
        var doc = await Host.WaitForStatusAsync(id, s => s.GetProperty("participants")[1].GetProperty("vote").GetString() == "Yes", Wait, "ghost's genuine vote");
        Assert.Equal("Preparing", doc.GetProperty("status").GetString());
        Assert.Equal(JsonValueKind.Null, doc.GetProperty("participants")[0].GetProperty("vote").ValueKind);
        await Eventually.WaitAsync(async () => (await Host.PeekAsync(QueueNames.Poison(QueueNames.Coordinator))).Contains(forged), Wait, "the forged vote poisoned");
        Assert.True(fixture.Logs.Count(3000, "cannot be trusted: signed with a key that is not accepted here") >= 1);
        Assert.Equal(HttpStatusCode.Accepted, (await Host.Client.PostAsync($"/api/transactions/{id}/abort", null)).StatusCode);
    }

    [Fact]
    public async Task AnHttpParticipantWhoseReplyIsSignedWithAnotherKey_IsNotTaken_AndTheTransactionAbortsAtItsDeadline()
    {
        var id = TestHost.Id("badreply");
        Assert.Equal(HttpStatusCode.Accepted, (await Host.StartAsync(new
        {
            transactionId = id,
            timeoutSeconds = 5,
            participants = new object[] { new { participant = "impostor", operation = new { anything = true } } },
        })).StatusCode);

        var doc = await Host.WaitForStatusAsync(id, Wait, "Aborting", "Aborted");

        Assert.Equal("Abort", doc.GetProperty("decision").GetString());
        Assert.Equal("vote deadline passed without a vote from 'impostor'", doc.GetProperty("reason").GetString());
        Assert.Equal(JsonValueKind.Null, doc.GetProperty("participants")[0].GetProperty("vote").ValueKind);

        // The rollback's acknowledgement is no better: not taken (the participant and the signer named in the log), the
        // rollback is sent again on the phase-2 timer, and the transaction stays Aborting (I7).
        await Eventually.WaitAsync(
            () => Task.FromResult(fixture.Logs.Count(2015, "signed by 'bank', not 'impostor'") > 0),
            Wait,
            "the rollback's reply not taken, naming its signer");
        var requests = fixture.Impostor.Requests;
        await Eventually.WaitAsync(() => Task.FromResult(fixture.Impostor.Requests > requests), Wait, "the rollback sent again");
        Assert.Equal("Aborting", (await Host.GetStatusAsync(id)).GetProperty("status").GetString());
    }

    [Fact]
    public async Task AnHttpParticipantThatIsDown_VotesNoAtTheDeadline_AndGetsItsCancelWhenItIsBack()
    {
        var (id, alice) = (TestHost.Id("down"), TestHost.Id("alice"));
        await Host.PutAccountAsync(alice, 100);
        await fixture.Loyalty.KillAsync();
        try
        {
            Assert.Equal(HttpStatusCode.Accepted, (await Host.StartAsync(new
            {
                transactionId = id,
                timeoutSeconds = 4,
                participants = new object[]
                {
                    new { participant = "bank", operation = new { type = "debit", account = alice, amount = 10 } },
                    new { participant = "loyalty", kind = "tcc", operation = new { type = "award", customer = alice, points = 10 } },
                },
            })).StatusCode);
            var doc = await Host.WaitForStatusAsync(id, Wait, "Aborting", "Aborted");
            Assert.Equal("vote deadline passed without a vote from 'loyalty'", doc.GetProperty("reason").GetString());
            Assert.Equal("Aborting", doc.GetProperty("status").GetString());
        }
        finally
        {
            await fixture.Loyalty.RestartAsync();
        }

        var done = await Host.WaitForStatusAsync(id, Wait, "Aborted");
        Assert.Equal("RolledBack", done.GetProperty("participants")[1].GetProperty("outcome").GetString());
        Assert.Equal((100, 0), await Host.GetAccountAsync(alice));
        Assert.Equal((0L, 0L), await fixture.Loyalty.BalanceAsync(alice));

        // A Try arriving now, however late, is answered from the branch's record and reserves nothing (I5, I6): its first
        // vote again (the Cancel came first, or the activity's last retry reached loyalty just before its Cancel).
        using var late = await fixture.Loyalty.Client.PostAsync("/tx", new StringContent(Host.CodecOf("loyalty").Encode(new ProtocolMessage(MessageKind.Prepare, id)
        {
            Branch = 1,
            Participant = "loyalty",
            Operation = JsonSerializer.Serialize(new { type = "award", customer = alice, points = 10 }),
        }), Encoding.UTF8, "application/json"));
        Assert.True(late.StatusCode is HttpStatusCode.OK or HttpStatusCode.Conflict, $"a late Try answered {late.StatusCode}");
        Assert.Equal((0L, 0L), await fixture.Loyalty.BalanceAsync(alice));
    }

    [Fact]
    public async Task AnHttpParticipantDownAfterItsYes_IsConfirmedWhenItIsBack()
    {
        var (id, alice, order) = (TestHost.Id("confirm"), TestHost.Id("alice"), TestHost.Id("o"));
        await fixture.Shipping.KillAsync();
        try
        {
            Assert.Equal(HttpStatusCode.Accepted, (await Host.StartAsync(new
            {
                transactionId = id,
                timeoutSeconds = 60,
                participants = new object[]
                {
                    new { participant = "loyalty", kind = "tcc", operation = new { type = "award", customer = alice, points = 12 } },
                    new { participant = "shipping", operation = new { type = "schedule", orderId = order, address = "4 Dock Row" } },
                },
            })).StatusCode);
            await Host.WaitForStatusAsync(id, s => s.GetProperty("participants")[0].GetProperty("vote").GetString() == "Yes", Wait, "loyalty's Yes");
            Assert.Equal((0L, 12L), await fixture.Loyalty.BalanceAsync(alice));
            await fixture.Loyalty.KillAsync();
        }
        finally
        {
            await fixture.Shipping.RestartAsync();
        }

        var committing = await Host.WaitForStatusAsync(id, Wait, "Committing", "Committed");
        Assert.Equal("Commit", committing.GetProperty("decision").GetString());
        await fixture.Loyalty.RestartAsync();
        var doc = await Host.WaitForStatusAsync(id, Wait, "Committed");
        Assert.Equal(["Committed", "Committed"], Outcomes(doc));
        Assert.Equal((12L, 0L), await fixture.Loyalty.BalanceAsync(alice));
        Assert.Equal("scheduled", (await fixture.Shipping.ShipmentAsync(order))!.Value.GetProperty("status").GetString());
    }

    private async Task<JsonElement> RunAsync(object body)
    {
        using var response = await Host.StartAsync(body);
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var id = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString()!;
        return await Host.WaitForStatusAsync(id, Wait, "Committed", "Aborted");
    }

    private static object Order(string id, string customer, string store, string order, string address, int points) => new
    {
        transactionId = id,
        participants = new object[]
        {
            new { participant = "bank", operation = new { type = "debit", account = customer, amount = 30 } },
            new { participant = "bank", operation = new { type = "credit", account = store, amount = 30 } },
            new { participant = "shipping", operation = new { type = "schedule", orderId = order, address } },
            new { participant = "loyalty", kind = "tcc", operation = new { type = "award", customer, points } },
        },
    };

    private static string[] Outcomes(JsonElement doc) => [.. doc.GetProperty("participants").EnumerateArray().Select(b => b.GetProperty("outcome").GetString() ?? "null")];

    /// <summary>
    /// The coordinator's host (bank in the app; shipping by its inbox; loyalty and an impostor over HTTP), the shipping app
    /// on its own PostgreSQL database, and loyalty, each participant with the key the coordinator derives for it.
    /// </summary>
    public sealed class Fixture : IAsyncLifetime
    {
        private readonly PostgresServer _postgres = new();
        private TestHost? _host;
        private ShippingServer? _shipping;
        private LoyaltyServer? _loyalty;
        private ImpostorParticipant? _impostor;

        public TestHost Host => _host ?? throw new InvalidOperationException("not started");

        public ShippingServer Shipping => _shipping ?? throw new InvalidOperationException("not started");

        public LoyaltyServer Loyalty => _loyalty ?? throw new InvalidOperationException("not started");

        public ImpostorParticipant Impostor => _impostor ?? throw new InvalidOperationException("not started");

        public LogCapture Logs { get; } = new();

        public async Task InitializeAsync()
        {
            await _postgres.InitializeAsync();
            _loyalty = await LoyaltyServer.StartAsync(ParticipantKeyring.DeriveKey(TestHost.SigningKey, "loyalty"));

            // Answers every command with a reply signed with the bank's key in its own name.
            _impostor = ImpostorParticipant.Start(ParticipantKeyring.Derived(TestHost.SigningKey).For("bank"));
            _host = await TestHost.StartAsync(
                new Dictionary<string, string?>
                {
                    ["TRANSACTIONS_PARTICIPANTS"] = "bank,ghost,shipping",
                    ["PARTICIPANT_SHIPPING_KINDS"] = "2pc",
                    ["PARTICIPANT_LOYALTY_URL"] = new Uri(Loyalty.BaseUrl, "/tx").AbsoluteUri,
                    ["PARTICIPANT_LOYALTY_KINDS"] = "tcc",
                    ["PARTICIPANT_IMPOSTOR_URL"] = Impostor.Url,
                    ["Logging:LogLevel:Default"] = "Information",
                },
                logs: Logs);
            _shipping = await ShippingServer.StartAsync(
                Host.ConnectionString, ParticipantKeyring.DeriveKey(TestHost.SigningKey, "shipping"), await _postgres.DatabaseAsync(nameof(OutsideParticipantsTests)));
        }

        public async Task DisposeAsync()
        {
            foreach (var part in new IAsyncDisposable?[] { _shipping, _host, _loyalty, _impostor })
            {
                if (part is not null)
                {
                    await part.DisposeAsync();
                }
            }

            await _postgres.DisposeAsync();
        }
    }
}
