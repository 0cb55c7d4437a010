using System.Diagnostics.Metrics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.DurableTask.Client;
using Serverless.Core.Protocol;
using Serverless.Functions.Coordination;
using Serverless.Functions.Messaging;
using Serverless.Functions.Telemetry;
using Serverless.Testing;

namespace Serverless.Functions.Tests;

/// <summary>
/// The mixed order of issue 23 on the real engine: the order row in PostgreSQL (2PC), the stock in inventory (TCC), the
/// payment charged through the payment service, a process of its own (saga). Prepared branches first; saga actions only
/// once all voted Yes, in request order; a failed action compensates the ones done and aborts the prepared branches.
/// </summary>
public sealed class SagaOrderTests(SagaOrderTests.Fixture fixture) : IClassFixture<SagaOrderTests.Fixture>
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(45);

    /// <summary>
    /// This host's <c>TRANSACTIONS_SAGA_PHASE_SECONDS</c>: short, for the test of the limit, and longer than the 4 s vote
    /// deadline of the test that hangs a charge until its deadline.
    /// </summary>
    private const int SagaPhaseSeconds = 6;

    private TestHost Host => fixture.Host;

    private PaymentsServer Payments => fixture.Payments;

    [Fact]
    public async Task Order_WithStockAsTccAndPaymentAsSaga_Commits_ChargingOnce()
    {
        var shop = await ShopAsync(cardBalance: 100);

        var doc = await PlaceAsync(shop, quantity: 2, charges: [30]);

        Assert.Equal("Committed", doc.GetProperty("status").GetString());
        Assert.Equal(["2pc", "tcc", "saga"], Branches(doc).Select(b => b.GetProperty("kind").GetString()));
        Assert.All(Branches(doc), b => Assert.Equal("Committed", b.GetProperty("outcome").GetString()));
        Assert.All(Branches(doc), b => Assert.Equal(JsonValueKind.Null, b.GetProperty("heuristic").ValueKind));
        Assert.Equal(2, (await Host.Client.GetFromJsonAsync<JsonElement>($"/api/orders/{shop.OrderId}")).GetProperty("quantity").GetInt32());
        Assert.Equal((8L, 0L), await ItemAsync(shop.Sku));
        Assert.Equal(70, await Payments.BalanceAsync(shop.Card));
        Assert.Equal(1, await Payments.ChargeRequestsAsync(shop.Card));
        Assert.Empty(await PreparedAsync());
    }

    [Fact]
    public async Task PreparedBranchVotingNo_RunsNoSagaAction_AndLeavesNothingAnywhere()
    {
        var shop = await ShopAsync(cardBalance: 100);

        var doc = await PlaceAsync(shop, quantity: 11, charges: [30]);

        Assert.Equal("Aborted", doc.GetProperty("status").GetString());
        Assert.StartsWith("participant 'inventory' voted No", doc.GetProperty("reason").GetString(), StringComparison.Ordinal);
        Assert.Equal(0, await Payments.ChargeRequestsAsync(shop.Card));
        Assert.Equal(100, await Payments.BalanceAsync(shop.Card));

        // The compensation of the action that never ran cancelled it: should it arrive late, it takes nothing.
        var charge = await Payments.Client.GetFromJsonAsync<JsonElement>($"/charges/{Branches(doc)[2].GetProperty("key").GetString()}");
        Assert.Equal("voided", charge.GetProperty("status").GetString());
        Assert.Equal("RolledBack", Branches(doc)[2].GetProperty("outcome").GetString());
        await AssertNothingRemainsAsync(shop);
    }

    [Fact]
    public async Task DeclinedPayment_AbortsNamingIt_AndReleasesTheStockAndTheOrderRow()
    {
        var shop = await ShopAsync(cardBalance: 10);

        var doc = await PlaceAsync(shop, quantity: 1, charges: [30]);

        Assert.Equal("Aborted", doc.GetProperty("status").GetString());
        Assert.Equal($"saga action of 'payments' was not applied: insufficient funds in '{shop.Card}'", doc.GetProperty("reason").GetString());
        Assert.Equal(["Yes", "Yes", "No"], Branches(doc).Select(b => b.GetProperty("vote").GetString()));
        Assert.Equal(10, await Payments.BalanceAsync(shop.Card));
        await AssertNothingRemainsAsync(shop);
    }

    [Fact]
    public async Task SecondChargeDeclined_AfterTheFirstWentThrough_RefundsTheFirst_AndReleasesEverythingElse()
    {
        var shop = await ShopAsync(cardBalance: 100);

        var doc = await PlaceAsync(shop, quantity: 1, charges: [60, 60]);

        Assert.Equal("Aborted", doc.GetProperty("status").GetString());
        Assert.Equal(["Yes", "Yes", "Yes", "No"], Branches(doc).Select(b => b.GetProperty("vote").GetString()));
        Assert.All(Branches(doc), b => Assert.Equal("RolledBack", b.GetProperty("outcome").GetString()));
        var first = await Payments.Client.GetFromJsonAsync<JsonElement>($"/charges/{Branches(doc)[2].GetProperty("key").GetString()}");
        Assert.Equal("refunded", first.GetProperty("status").GetString());
        Assert.Equal(100, await Payments.BalanceAsync(shop.Card));
        await AssertNothingRemainsAsync(shop);
    }

    [Fact]
    public async Task TheChargesKey_IsTheTransactionIdBranchAndARandomPart_ShownInTheStatus_SoNoOneCanGuessOrReuseIt()
    {
        var shop = await ShopAsync(cardBalance: 100);

        var doc = await PlaceAsync(shop, quantity: 1, charges: [40]);

        var id = doc.GetProperty("id").GetString()!;
        var key = Branches(doc)[2].GetProperty("key").GetString()!;
        Assert.Matches($"^{System.Text.RegularExpressions.Regex.Escape(id)}\\.2\\.[0-9a-f]{{16}}$", key);
        Assert.False(Branches(doc)[0].TryGetProperty("key", out _), "only a saga branch has a key");
        Assert.Equal("charged", (await Payments.Client.GetFromJsonAsync<JsonElement>($"/charges/{key}")).GetProperty("status").GetString());
        using var guessed = await Payments.Client.GetAsync($"/charges/{id}.2");
        Assert.Equal(HttpStatusCode.NotFound, guessed.StatusCode);
        Assert.Equal(60, await Payments.BalanceAsync(shop.Card));
    }

    [Fact]
    public async Task ChargeWhoseAnswerIsLost_IsAskedAgainWithTheSameKey_AndTakesTheMoneyOnce()
    {
        var shop = await ShopAsync(cardBalance: 100);
        await Payments.SetFaultAsync(shop.Card, charge: "lose", times: 1);

        var doc = await PlaceAsync(shop, quantity: 1, charges: [40]);

        Assert.Equal("Committed", doc.GetProperty("status").GetString());
        Assert.Equal(2, await Payments.ChargeRequestsAsync(shop.Card));
        Assert.Equal(60, await Payments.BalanceAsync(shop.Card));
    }

    [Fact]
    public async Task ChargeThatHangs_IsAbortedAtTheDeadline_AndCancelledSoThatItNeverTakesMoney()
    {
        var shop = await ShopAsync(cardBalance: 100);
        await Payments.SetFaultAsync(shop.Card, charge: "hang");

        var doc = await PlaceAsync(shop, quantity: 1, charges: [40], timeoutSeconds: 4);

        Assert.Equal("Aborted", doc.GetProperty("status").GetString());
        Assert.Equal("vote deadline passed without a vote from 'payments'", doc.GetProperty("reason").GetString());
        await AssertNothingRemainsAsync(shop);

        // The charge's later attempts find Abort recorded and do not run; one already on its way, once the service answers
        // again, meets the cancellation: nothing is taken, ever.
        await Payments.ClearFaultAsync(shop.Card);
        var key = Branches(doc)[2].GetProperty("key").GetString();
        Assert.Equal("voided", (await Payments.Client.GetFromJsonAsync<JsonElement>($"/charges/{key}")).GetProperty("status").GetString());
        Assert.Equal(100, await Payments.BalanceAsync(shop.Card));
    }

    [Fact]
    public async Task FirstOfTwoChargesHanging_AbortsAtTheSagaPhaseLimit_LongBeforeTheVoteDeadline_VoidingIt_AndNothingRemains()
    {
        var shop = await ShopAsync(cardBalance: 100);
        var other = TestHost.Id("card");
        await Payments.SetBalanceAsync(other, 100);
        await Payments.SetFaultAsync(shop.Card, charge: "hang");

        var response = await Host.StartAsync(
            OrderBody(TestHost.Id("saga-limit"), shop, quantity: 1, charges: [40, 10], timeoutSeconds: 60, cards: [shop.Card, other]), waitSeconds: 45);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var doc = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("Aborted", doc.GetProperty("status").GetString());
        Assert.Equal($"the saga actions did not finish within {SagaPhaseSeconds} s of the first: no answer yet from 'payments'", doc.GetProperty("reason").GetString());
        var decidedAfter = doc.GetProperty("decidedAt").GetDateTimeOffset() - doc.GetProperty("createdAt").GetDateTimeOffset();
        Assert.InRange(decidedAfter, TimeSpan.FromSeconds(SagaPhaseSeconds), TimeSpan.FromSeconds(30));
        Assert.All(Branches(doc), b => Assert.Equal("RolledBack", b.GetProperty("outcome").GetString()));
        await AssertNothingRemainsAsync(shop);
        Assert.Equal(0, await Payments.ChargeRequestsAsync(other));

        // The hung charge's compensation cancelled it: once the service answers again, it takes nothing.
        await Payments.ClearFaultAsync(shop.Card);
        var key = Branches(doc)[2].GetProperty("key").GetString();
        Assert.Equal("voided", (await Payments.Client.GetFromJsonAsync<JsonElement>($"/charges/{key}")).GetProperty("status").GetString());
        Assert.Equal(100, await Payments.BalanceAsync(shop.Card));
        Assert.Equal(100, await Payments.BalanceAsync(other));
    }

    [Fact]
    public async Task AbortRecordedWhileTheFirstChargeHangs_StopsTheActions_SoTheSecondChargeIsNeverCalled_AndBothAreCompensated()
    {
        var shop = await ShopAsync(cardBalance: 100);
        var other = TestHost.Id("card");
        await Payments.SetBalanceAsync(other, 100);
        await Payments.SetFaultAsync(shop.Card, charge: "hang");
        var id = TestHost.Id("saga-abort");
        Assert.Equal(
            HttpStatusCode.Accepted,
            (await Host.StartAsync(OrderBody(id, shop, quantity: 1, charges: [40, 10], timeoutSeconds: 60, cards: [shop.Card, other]))).StatusCode);
        await Eventually.WaitAsync(async () => await Payments.ChargeRequestsAsync(shop.Card) >= 1, Wait, "the first charge to reach the payment service");

        // POST .../abort records Abort first and raises its event after. Here the event is late (the API's process stopped
        // between the two; or the first charge's answer came before it): only the record can stop the charges. The first
        // charge's attempt hangs until the client gives up (2 s); its next attempt would go through.
        await Host.Decisions.RecordAsync(id, new DecisionRecord(Decision.Abort, "abort requested", DateTimeOffset.UtcNow, []));
        await Payments.ClearFaultAsync(shop.Card);

        var doc = await Host.WaitForStatusAsync(id, Wait, "Aborted");
        Assert.Equal("No", Branches(doc)[2].GetProperty("vote").GetString());
        Assert.Equal("the transaction was decided Abort before this action ran", Branches(doc)[2].GetProperty("reason").GetString());
        Assert.Equal(JsonValueKind.Null, Branches(doc)[3].GetProperty("vote").ValueKind);
        Assert.All(Branches(doc), b => Assert.Equal("RolledBack", b.GetProperty("outcome").GetString()));
        Assert.Equal(0, await Payments.ChargeRequestsAsync(other));
        Assert.Equal(1, await Payments.ChargeRequestsAsync(shop.Card));

        // Each charge's compensation cancelled its key: should an attempt of the charge still arrive, it takes nothing.
        foreach (var branch in Branches(doc)[2..])
        {
            Assert.Equal("voided", (await Payments.Client.GetFromJsonAsync<JsonElement>($"/charges/{branch.GetProperty("key").GetString()}")).GetProperty("status").GetString());
        }

        Assert.Equal(100, await Payments.BalanceAsync(shop.Card));
        Assert.Equal(100, await Payments.BalanceAsync(other));
        await AssertNothingRemainsAsync(shop);

        // An abort now finds the transaction ended: it keeps its outcome.
        using var abort = await Host.Client.PostAsync($"/api/transactions/{id}/abort", null);
        Assert.Equal(HttpStatusCode.Conflict, abort.StatusCode);
    }

    [Fact]
    public async Task CompensationFailingTwice_IsRetriedOnTheTimer_UntilTheRefundGoesThrough()
    {
        var shop = await ShopAsync(cardBalance: 100);
        await Payments.SetFaultAsync(shop.Card, charge: null, refund: "fail", times: 2);

        var doc = await PlaceAsync(shop, quantity: 1, charges: [60, 60]);

        Assert.Equal("Aborted", doc.GetProperty("status").GetString());

        // Two compensations (the refund of the first charge, and the cancellation of the declined second) failed once each, then went through.
        Assert.True(await Payments.RefundRequestsAsync(shop.Card) >= 4, $"{await Payments.RefundRequestsAsync(shop.Card)} refund requests");
        Assert.Equal(100, await Payments.BalanceAsync(shop.Card));
        Assert.Equal(JsonValueKind.Null, Branches(doc)[2].GetProperty("heuristic").ValueKind);
        await AssertNothingRemainsAsync(shop);
    }

    [Fact]
    public async Task CompensationThatKeepsFailing_IsAHeuristicOutcome_InStatusAndLog_AndStillRetried()
    {
        var shop = await ShopAsync(cardBalance: 100);
        await Payments.SetFaultAsync(shop.Card, charge: null, refund: "fail");
        var id = TestHost.Id("heuristic");
        long heuristics = 0;
        using var meters = new MeterListener
        {
            InstrumentPublished = (instrument, listener) =>
            {
                if (instrument.Meter.Name == TransactionTelemetry.Name && instrument.Name == "transactions.heuristic")
                {
                    listener.EnableMeasurementEvents(instrument);
                }
            },
        };
        meters.SetMeasurementEventCallback<long>((_, value, _, _) => Interlocked.Add(ref heuristics, value));
        meters.Start();

        var started = await Host.StartAsync(OrderBody(id, shop, quantity: 1, charges: [60, 60], timeoutSeconds: 30));
        Assert.Equal(HttpStatusCode.Accepted, started.StatusCode);

        // Both saga branches' compensations fail: the refund of the first charge, and that of the declined second.
        var doc = await WaitForAsync(id, d => Branches(d).Skip(2).All(b => b.GetProperty("heuristic").ValueKind == JsonValueKind.String));
        Assert.Equal("Aborting", doc.GetProperty("status").GetString());
        Assert.Contains("compensation failed 3 times", Branches(doc)[2].GetProperty("heuristic").GetString(), StringComparison.Ordinal);
        Assert.Contains("503", Branches(doc)[2].GetProperty("heuristic").GetString(), StringComparison.Ordinal);
        Assert.Equal(40, await Payments.BalanceAsync(shop.Card));
        await Eventually.WaitAsync(() => Task.FromResult(fixture.Logs.Count(1015, id) == 2), Wait, "a Critical heuristic alert per branch");
        Assert.True(Interlocked.Read(ref heuristics) >= 2, $"transactions.heuristic counted {heuristics}");
        Assert.True((await Host.GetStatusAsync(id)).GetProperty("status").GetString() == "Aborting", "an uncompensated saga branch keeps the transaction Aborting");

        // Never skipped: once the service takes refunds again, the retry timer's next attempt goes through.
        await Payments.ClearFaultAsync(shop.Card);
        doc = await Host.WaitForStatusAsync(id, Wait, "Aborted");
        Assert.Equal("RolledBack", Branches(doc)[2].GetProperty("outcome").GetString());
        Assert.All(Branches(doc), b => Assert.Equal(JsonValueKind.Null, b.GetProperty("heuristic").ValueKind));
        Assert.Equal(100, await Payments.BalanceAsync(shop.Card));
        Assert.Equal(2, fixture.Logs.Count(1015, id));
    }

    [Fact]
    public async Task FailedRun_WhileThePaymentServiceIsDown_IsFinished_AndItsChargeRefundedOnceTheServiceIsBack()
    {
        // The first charge goes through on the shop's card; the second hangs on another card.
        var shop = await ShopAsync(cardBalance: 100);
        var other = TestHost.Id("card");
        await Payments.SetBalanceAsync(other, 100);
        await Payments.SetFaultAsync(other, charge: "hang");
        var id = TestHost.Id("failed-saga");
        Assert.Equal(HttpStatusCode.Accepted, (await Host.StartAsync(OrderBody(id, shop, quantity: 1, charges: [60, 10], cards: [shop.Card, other]))).StatusCode);
        var charged = await WaitForAsync(id, d => Branches(d)[2].GetProperty("vote").GetString() == "Yes");
        var (key, hanging) = (Branches(charged)[2].GetProperty("key").GetString(), Branches(charged)[3].GetProperty("key").GetString());
        Assert.Equal(40, await Payments.BalanceAsync(shop.Card));

        // The payment service goes down for 30 s; a vote event without a payload fails the run, whose one compensation cannot reach it.
        await Payments.KillAsync();
        var down = DateTimeOffset.UtcNow;
        try
        {
            await Host.Durable().RaiseEventAsync(id, TransactionEvents.Vote, null);
            await Eventually.WaitAsync(() => Task.FromResult(fixture.Logs.Count(1008, id) == 1), Wait, "the failed run's alert");
            var alert = Assert.Single(fixture.Logs.Lines, l => l.EventId == 1008 && l.Message.Contains(id, StringComparison.Ordinal)).Message;
            Assert.Contains($"not compensated yet: branch 2 (payments, key {key}): ", alert, StringComparison.Ordinal);
            Assert.DoesNotContain("Compensate each", alert, StringComparison.Ordinal);

            // The run that finishes it retries the refund on its timers while the service is down, and it goes through once it is back.
            await Eventually.WaitAsync(() => Task.FromResult(fixture.Logs.Count(1016, id) == 1), Wait, "the failed run started again to finish it");
            await Eventually.WaitAsync(() => Task.FromResult(fixture.Logs.Count(1014, id) >= 2), Wait, "the refund retried while the service is down");
            if (down.AddSeconds(30) - DateTimeOffset.UtcNow is { Ticks: > 0 } rest)
            {
                await Task.Delay(rest);
            }
        }
        finally
        {
            await Payments.RestartAsync();
        }

        var doc = await WaitForAsync(id, d => d.GetProperty("status").GetString() == "Aborted");

        Assert.Equal(Decision.Abort, (await Host.Decisions.GetAsync(id))!.Decision);
        Assert.All(Branches(doc), b => Assert.Equal("RolledBack", b.GetProperty("outcome").GetString()));
        Assert.All(Branches(doc), b => Assert.Equal(JsonValueKind.Null, b.GetProperty("heuristic").ValueKind));
        Assert.Equal(100, await Payments.BalanceAsync(shop.Card));
        Assert.Equal("refunded", (await Payments.Client.GetFromJsonAsync<JsonElement>($"/charges/{key}")).GetProperty("status").GetString());
        Assert.Equal("voided", (await Payments.Client.GetFromJsonAsync<JsonElement>($"/charges/{hanging}")).GetProperty("status").GetString());
        Assert.Equal(100, await Payments.BalanceAsync(other));
        await AssertNothingRemainsAsync(shop);
        Assert.Contains(id, await ListAsync("Aborted"));
    }

    [Fact]
    public async Task TerminateDuringAHangingCharge_AfterAnEarlierChargeWentThrough_RefundsIt_NeverTakesTheHangingOne_AndEndsAborted()
    {
        // The first charge goes through on the shop's card, whose first two refunds fail; the second hangs on another card.
        var shop = await ShopAsync(cardBalance: 100);
        var other = TestHost.Id("card");
        await Payments.SetBalanceAsync(other, 100);
        await Payments.SetFaultAsync(shop.Card, charge: null, refund: "fail", times: 2);
        await Payments.SetFaultAsync(other, charge: "hang");
        var id = TestHost.Id("terminated-saga");
        Assert.Equal(HttpStatusCode.Accepted, (await Host.StartAsync(OrderBody(id, shop, quantity: 1, charges: [60, 10], timeoutSeconds: 60, cards: [shop.Card, other]))).StatusCode);
        var charged = await WaitForAsync(id, d => Branches(d)[2].GetProperty("vote").GetString() == "Yes");
        var (key, hanging) = (Branches(charged)[2].GetProperty("key").GetString(), Branches(charged)[3].GetProperty("key").GetString());
        await Eventually.WaitAsync(async () => await Payments.ChargeRequestsAsync(other) >= 1, Wait, "the second charge hanging");

        // An operator's terminate: nothing of the orchestration runs; the run that finishes it presumes abort.
        await Host.Durable().TerminateInstanceAsync(id, new TerminateInstanceOptions { Output = "test: an operator's terminate" });
        var doc = await WaitForAsync(id, d => d.GetProperty("status").GetString() == "Aborted");

        Assert.Equal("presumed abort: the orchestration was terminated before a decision was recorded", doc.GetProperty("reason").GetString());
        Assert.All(Branches(doc), b => Assert.Equal("RolledBack", b.GetProperty("outcome").GetString()));
        Assert.True(await Payments.RefundRequestsAsync(shop.Card) >= 3, "the refund failed twice and was retried");
        Assert.Equal(100, await Payments.BalanceAsync(shop.Card));
        Assert.Equal("refunded", (await Payments.Client.GetFromJsonAsync<JsonElement>($"/charges/{key}")).GetProperty("status").GetString());

        // The hanging charge, retried now that it answers, meets its cancellation: nothing is taken, ever.
        await Payments.ClearFaultAsync(other);
        Assert.Equal("voided", (await Payments.Client.GetFromJsonAsync<JsonElement>($"/charges/{hanging}")).GetProperty("status").GetString());
        Assert.Equal(100, await Payments.BalanceAsync(other));
        await AssertNothingRemainsAsync(shop);
        Assert.Contains(id, await ListAsync("Aborted"));
    }

    [Theory]
    [InlineData("orders", "tcc", "{\"type\":\"place\"}", "participants[0].kind", "Participant 'orders' takes 2pc branches, not tcc.")]
    [InlineData("payments", null, "{\"type\":\"charge\"}", "participants[0].kind", "Participant 'payments' takes saga branches, not 2pc.")]
    [InlineData("bank", "saga", "{\"type\":\"debit\"}", "participants[0].kind", "Participant 'bank' takes 2pc or tcc branches, not saga.")]
    [InlineData("bank", "xa", "{\"type\":\"debit\"}", "participants[0].kind", "Must be \"2pc\" (the default), \"tcc\" or \"saga\".")]
    [InlineData("bank", "TCC", "{\"type\":\"debit\"}", "participants[0].kind", "Must be \"2pc\" (the default), \"tcc\" or \"saga\".")]
    public async Task BranchKind_ThatIsNoneOrThatTheParticipantDoesNotTake_Is400NamingTheField(
        string participant, string? kind, string operation, string field, string message)
    {
        var id = TestHost.Id("bad-kind");
        using var body = new StringContent(
            $"{{\"transactionId\":\"{id}\",\"participants\":[{{\"participant\":\"{participant}\",{(kind is null ? "" : $"\"kind\":\"{kind}\",")}\"operation\":{operation}}}]}}",
            System.Text.Encoding.UTF8,
            "application/json");

        var response = await Host.Client.PostAsync("/api/transactions", body);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(message, Assert.Single(problem.GetProperty("errors").GetProperty(field).EnumerateArray()).GetString());
        Assert.Equal(HttpStatusCode.NotFound, (await Host.Client.GetAsync($"/api/transactions/{id}")).StatusCode);
    }

    [Fact]
    public async Task TheSameRequest_WithAnotherKind_IsAnotherBody_409()
    {
        var account = TestHost.Id("kind");
        Assert.Equal(HttpStatusCode.OK, (await Host.PutAccountAsync(account, 10)).StatusCode);
        var id = TestHost.Id("kind-tx");
        object Body(string kind) => new { transactionId = id, participants = new[] { new { participant = "bank", kind, operation = new { type = "credit", account, amount = 1 } } } };

        Assert.Equal(HttpStatusCode.OK, (await Host.StartAsync(Body("tcc"), waitSeconds: 30)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await Host.StartAsync(Body("tcc"), waitSeconds: 30)).StatusCode);
        Assert.Equal(HttpStatusCode.Conflict, (await Host.StartAsync(Body("2pc"))).StatusCode);
    }

    private static JsonElement[] Branches(JsonElement doc) => [.. doc.GetProperty("participants").EnumerateArray()];

    private async Task AssertNothingRemainsAsync(Shop shop)
    {
        Assert.Equal(HttpStatusCode.NotFound, (await Host.Client.GetAsync($"/api/orders/{shop.OrderId}")).StatusCode);
        Assert.Equal((10L, 0L), await ItemAsync(shop.Sku));
        Assert.Empty(await PreparedAsync());
    }

    private async Task<Shop> ShopAsync(long cardBalance)
    {
        var shop = new Shop(TestHost.Id("o"), TestHost.Id("gadget"), TestHost.Id("card"));
        Assert.Equal(HttpStatusCode.OK, (await Host.Client.PutAsJsonAsync($"/api/inventory/items/{shop.Sku}", new { stock = 10 })).StatusCode);
        await Payments.SetBalanceAsync(shop.Card, cardBalance);
        return shop;
    }

    /// <summary>The order's body: its row, its stock (TCC), and a saga charge per amount, on the shop's card unless <paramref name="cards"/> names another.</summary>
    private static object OrderBody(string id, Shop shop, int quantity, long[] charges, int timeoutSeconds = 30, string[]? cards = null) => new
    {
        transactionId = id,
        timeoutSeconds,
        participants = new object[]
        {
            new { participant = "orders", operation = new { type = "place", orderId = shop.OrderId, sku = shop.Sku, quantity, customer = shop.Card } },
            new { participant = "inventory", kind = "tcc", operation = new { type = "reserve", sku = shop.Sku, quantity } },
        }.Concat(charges.Select((amount, i) => new { participant = "payments", kind = "saga", operation = new { type = "charge", account = cards?[i] ?? shop.Card, amount } })),
    };

    private async Task<JsonElement> PlaceAsync(Shop shop, int quantity, long[] charges, int timeoutSeconds = 30)
    {
        var response = await Host.StartAsync(OrderBody(TestHost.Id("tx"), shop, quantity, charges, timeoutSeconds), waitSeconds: 45);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }

    private async Task<JsonElement> WaitForAsync(string id, Func<JsonElement, bool> done)
    {
        JsonElement last = default;
        await Eventually.WaitAsync(async () => done(last = await Host.GetStatusAsync(id)), Wait, $"transaction {id}: {last}");
        return last;
    }

    private Task<(long Stock, long Reserved)> ItemAsync(string sku) => Host.GetItemAsync(sku);

    private async Task<IReadOnlyList<string>> ListAsync(string status)
    {
        var page = await Host.Client.GetFromJsonAsync<JsonElement>($"/api/transactions?status={status}&top=1000");
        return [.. page.GetProperty("items").EnumerateArray().Select(i => i.GetProperty("id").GetString()!)];
    }

    private Task<List<string>> PreparedAsync() => PostgresServer.PreparedGidsAsync(fixture.Database);

    private sealed record Shop(string OrderId, string Sku, string Card);

    /// <summary>A PostgreSQL database of this class's own, a payment service process, and a host that runs orders and calls payments.</summary>
    public sealed class Fixture : IAsyncLifetime
    {
        private readonly PostgresServer _postgres = new();
        private TestHost? _host;
        private PaymentsServer? _payments;

        public TestHost Host => _host ?? throw new InvalidOperationException("not started");

        public PaymentsServer Payments => _payments ?? throw new InvalidOperationException("not started");

        public LogCapture Logs { get; } = new();

        public string Database { get; private set; } = string.Empty;

        public async Task InitializeAsync()
        {
            await _postgres.InitializeAsync();
            Database = await _postgres.DatabaseAsync(nameof(SagaOrderTests));
            _payments = await PaymentsServer.StartAsync();
            _host = await TestHost.StartAsync(
                new Dictionary<string, string?>
                {
                    ["TRANSACTIONS_PARTICIPANTS"] = "bank,inventory,orders",
                    ["ORDERS_POSTGRES_CONNECTION"] = Database,
                    ["AzureWebJobs.OrdersParticipant.Disabled"] = "false",
                    ["PAYMENTS_URL"] = _payments.BaseUrl.ToString(),
                    [PaymentsServer.ApiKeySetting] = _payments.ApiKey,
                    ["PAYMENTS_TIMEOUT_SECONDS"] = "2",
                    ["TRANSACTIONS_SAGA_PHASE_SECONDS"] = SagaPhaseSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture),

                    // A run that ended without its outcome is started again within two seconds to finish it.
                    ["TRANSACTIONS_IN_DOUBT_SCHEDULE"] = "*/2 * * * * *",
                },
                logs: Logs);
        }

        public async Task DisposeAsync()
        {
            try
            {
                if (_host is not null)
                {
                    await _host.DisposeAsync();
                }
            }
            finally
            {
                if (_payments is not null)
                {
                    await _payments.DisposeAsync();
                }

                await _postgres.DisposeAsync();
            }
        }
    }
}
