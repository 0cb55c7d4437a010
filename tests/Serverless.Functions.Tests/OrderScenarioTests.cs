using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Serverless.Testing;

namespace Serverless.Functions.Tests;

/// <summary>The order scenario across three systems: the order in PostgreSQL, the stock and the payment in Table storage.</summary>
public sealed class OrderScenarioTests(OrderScenarioTests.Fixture fixture) : IClassFixture<OrderScenarioTests.Fixture>
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    private TestHost Host => fixture.Host;

    [Fact]
    public async Task Order_AcrossPostgresInventoryAndBank_CommitsAsOne()
    {
        var shop = await ShopAsync();
        var orderId = TestHost.Id("o");

        var doc = await PlaceAsync(shop, orderId, quantity: 2, price: 30);

        Assert.Equal("Committed", doc.GetProperty("status").GetString());
        Assert.All(doc.GetProperty("participants").EnumerateArray(), b => Assert.Equal("Committed", b.GetProperty("outcome").GetString()));
        var order = await Host.Client.GetFromJsonAsync<JsonElement>($"/api/orders/{orderId}");
        Assert.Equal(shop.Sku, order.GetProperty("sku").GetString());
        Assert.Equal(2, order.GetProperty("quantity").GetInt32());
        Assert.Equal((8L, 0L), await ItemAsync(shop.Sku));
        Assert.Equal((70, 0), await Host.GetAccountAsync(shop.Customer));
        Assert.Equal((30, 0), await Host.GetAccountAsync(shop.Store));
        Assert.Empty(await PreparedAsync());
    }

    [Fact]
    public async Task Order_WhenPaymentIsRefused_LeavesNoOrder_NoStockChange_AndNoPreparedTransaction()
    {
        var shop = await ShopAsync();
        var orderId = TestHost.Id("o");

        var doc = await PlaceAsync(shop, orderId, quantity: 1, price: 500);

        Assert.Equal("Aborted", doc.GetProperty("status").GetString());
        Assert.Equal($"participant 'bank' voted No: insufficient funds in '{shop.Customer}'", doc.GetProperty("reason").GetString());
        Assert.Equal(HttpStatusCode.NotFound, (await Host.Client.GetAsync($"/api/orders/{orderId}")).StatusCode);
        Assert.Equal((10L, 0L), await ItemAsync(shop.Sku));
        Assert.Equal((100, 0), await Host.GetAccountAsync(shop.Customer));
        Assert.Empty(await PreparedAsync());
    }

    [Fact]
    public async Task Order_WithADuplicateOrderId_IsVotedNoByTheDatabase_AndChangesNothingElse()
    {
        var shop = await ShopAsync();
        var orderId = TestHost.Id("o");

        var first = await PlaceAsync(shop, orderId, quantity: 1, price: 10);
        var second = await PlaceAsync(shop, orderId, quantity: 1, price: 10);

        Assert.Equal("Committed", first.GetProperty("status").GetString());
        Assert.Equal("Aborted", second.GetProperty("status").GetString());
        Assert.StartsWith("participant 'orders' voted No", second.GetProperty("reason").GetString(), StringComparison.Ordinal);
        Assert.Equal("No", second.GetProperty("participants")[0].GetProperty("vote").GetString());
        Assert.Equal((90, 0), await Host.GetAccountAsync(shop.Customer));
        Assert.Equal((9L, 0L), await ItemAsync(shop.Sku));
        Assert.Empty(await PreparedAsync());
    }

    /// <summary>
    /// A branch PostgreSQL holds prepared (<c>pg_prepared_xacts</c>) for a transaction the coordinator never heard of, as a
    /// participant left it when its process died between <c>PREPARE TRANSACTION</c> and its vote: the one in-doubt resolver
    /// presumes Abort (I4), records it, and the prepared transaction is rolled back.
    /// </summary>
    [Fact]
    public async Task APreparedOrderOfAnUnknownTransaction_IsPresumedAborted_ByTheSameResolver_AndRolledBackInPostgres()
    {
        var shop = await ShopAsync();
        var (id, orderId) = (TestHost.Id("pg-unknown"), TestHost.Id("o"));
        var orders = Orders();

        var vote = await orders.PrepareAsync(new Serverless.Core.Participants.BranchKey(id, 0), PlaceOperation(orderId, shop, 1));
        Assert.Equal(Serverless.Core.Protocol.Vote.Yes, vote.Vote);
        Assert.Single(await PreparedAsync(), g => g.Contains(id, StringComparison.Ordinal));

        await Eventually.WaitAsync(async () => !(await PreparedAsync()).Any(g => g.Contains(id, StringComparison.Ordinal)), Wait, "the prepared order rolled back by the resolver");
        var recorded = await Host.Decisions.GetAsync(id);
        Assert.Equal(Serverless.Core.Protocol.Decision.Abort, recorded?.Decision);
        Assert.Contains("presumed abort", recorded!.Reason, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.NotFound, (await Host.Client.GetAsync($"/api/orders/{orderId}")).StatusCode);
    }

    /// <summary>A prepared order whose transaction has Commit recorded and whose commit never came is committed by the resolver.</summary>
    [Fact]
    public async Task APreparedOrderWhoseCommitWasLost_IsCommittedByTheRecordedDecision_ThroughTheSameResolver()
    {
        var shop = await ShopAsync();
        var (id, orderId) = (TestHost.Id("pg-commit"), TestHost.Id("o"));
        var orders = Orders();

        Assert.Equal(Serverless.Core.Protocol.Vote.Yes, (await orders.PrepareAsync(new Serverless.Core.Participants.BranchKey(id, 0), PlaceOperation(orderId, shop, 2))).Vote);
        await Host.Decisions.RecordAsync(id, new Serverless.Core.Protocol.DecisionRecord(Serverless.Core.Protocol.Decision.Commit, null, DateTimeOffset.UtcNow, [Serverless.Core.Protocol.Vote.Yes]));

        await Eventually.WaitAsync(async () => !(await PreparedAsync()).Any(g => g.Contains(id, StringComparison.Ordinal)), Wait, "the prepared order committed by the resolver");
        var order = await Host.Client.GetFromJsonAsync<JsonElement>($"/api/orders/{orderId}");
        Assert.Equal(2, order.GetProperty("quantity").GetInt32());
        Assert.Equal(Serverless.Core.Protocol.Decision.Commit, (await Host.Decisions.GetAsync(id))?.Decision);
    }

    private Serverless.Participants.Postgres.PostgresResourceManager Orders() =>
        Assert.IsType<Serverless.Participants.Postgres.PostgresResourceManager>(
            Host.Services.GetRequiredService<Serverless.Functions.Participants.ParticipantRegistry>().InApp.Find("orders"));

    private static string PlaceOperation(string orderId, Shop shop, int quantity) =>
        JsonSerializer.Serialize(new { type = "place", orderId, sku = shop.Sku, quantity, customer = shop.Customer });

    private async Task<Shop> ShopAsync()
    {
        var shop = new Shop(TestHost.Id("gadget"), TestHost.Id("erin"), TestHost.Id("store"));
        Assert.Equal(HttpStatusCode.OK, (await Host.Client.PutAsJsonAsync($"/api/inventory/items/{shop.Sku}", new { stock = 10 })).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await Host.PutAccountAsync(shop.Customer, 100)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await Host.PutAccountAsync(shop.Store, 0)).StatusCode);
        return shop;
    }

    private async Task<JsonElement> PlaceAsync(Shop shop, string orderId, int quantity, int price)
    {
        var response = await Host.StartAsync(new
        {
            transactionId = TestHost.Id("tx"),
            participants = new object[]
            {
                new { participant = "orders", operation = new { type = "place", orderId, sku = shop.Sku, quantity, customer = shop.Customer } },
                new { participant = "inventory", operation = new { type = "reserve", sku = shop.Sku, quantity } },
                new { participant = "bank", operation = new { type = "debit", account = shop.Customer, amount = price } },
                new { participant = "bank", operation = new { type = "credit", account = shop.Store, amount = price } },
            },
        }, waitSeconds: 45);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }

    private Task<(long Stock, long Reserved)> ItemAsync(string sku) => Host.GetItemAsync(sku);

    private Task<List<string>> PreparedAsync() => PostgresServer.PreparedGidsAsync(fixture.Database);

    private sealed record Shop(string Sku, string Customer, string Store);

    /// <summary>A PostgreSQL server with a database of this class's own, and a host that runs the orders participant on it.</summary>
    public sealed class Fixture : IAsyncLifetime
    {
        private readonly PostgresServer _postgres = new();
        private TestHost? _host;

        public TestHost Host => _host ?? throw new InvalidOperationException("not started");

        public string Database { get; private set; } = string.Empty;

        public async Task InitializeAsync()
        {
            await _postgres.InitializeAsync();
            Database = await _postgres.DatabaseAsync(nameof(OrderScenarioTests));
            _host = await TestHost.StartAsync(new Dictionary<string, string?>
            {
                ["TRANSACTIONS_PARTICIPANTS"] = "bank,inventory,orders",
                ["ORDERS_POSTGRES_CONNECTION"] = Database,
                ["AzureWebJobs.OrdersParticipant.Disabled"] = "false",

                // In-doubt resolution every second for branches prepared over a second ago (it leaves alone a branch whose
                // transaction may still decide, so the flows above are unaffected).
                ["TRANSACTIONS_IN_DOUBT_SCHEDULE"] = "*/1 * * * * *",
                ["TRANSACTIONS_IN_DOUBT_SECONDS"] = "1",
            });
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
                await _postgres.DisposeAsync();
            }
        }
    }
}
