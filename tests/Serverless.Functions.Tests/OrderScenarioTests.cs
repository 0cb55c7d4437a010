using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Npgsql;
using Serverless.Participants.Postgres.Tests;

namespace Serverless.Functions.Tests;

/// <summary>The order scenario across three systems: orders on PostgreSQL, stock and payment on Table storage.</summary>
[Collection(AzuriteCollection.Name)]
public sealed class OrderScenarioTests(Serverless.Testing.AzuriteFixture azurite, PostgresServer postgres) : IClassFixture<PostgresServer>
{
    [Fact]
    public async Task Order_AcrossPostgresInventoryAndBank_CommitsAsOne()
    {
        var database = await postgres.DatabaseAsync(nameof(Order_AcrossPostgresInventoryAndBank_CommitsAsOne));
        await using var host = await StartAsync(database);

        var doc = await PlaceAsync(host, "tx-o1", "o-1", quantity: 2, price: 30);

        Assert.Equal("Committed", doc.GetProperty("status").GetString());
        var order = await host.Client.GetFromJsonAsync<JsonElement>("/api/orders/o-1");
        Assert.Equal("gadget", order.GetProperty("sku").GetString());
        Assert.Equal(2, order.GetProperty("quantity").GetInt32());
        Assert.Equal(8, (await host.Client.GetFromJsonAsync<JsonElement>("/api/inventory/items/gadget")).GetProperty("stock").GetInt64());
        Assert.Equal((70, 0), await host.GetAccountAsync("erin"));
        Assert.Empty(await PreparedAsync(database));
    }

    [Fact]
    public async Task Order_WhenPaymentIsRefused_LeavesNoOrderNoStockChangeAndNoPreparedTransaction()
    {
        var database = await postgres.DatabaseAsync(nameof(Order_WhenPaymentIsRefused_LeavesNoOrderNoStockChangeAndNoPreparedTransaction));
        await using var host = await StartAsync(database);

        var doc = await PlaceAsync(host, "tx-o2", "o-2", quantity: 1, price: 500);

        Assert.Equal("Aborted", doc.GetProperty("status").GetString());
        Assert.Contains("insufficient funds", doc.GetProperty("reason").GetString(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.NotFound, (await host.Client.GetAsync("/api/orders/o-2")).StatusCode);
        var item = await host.Client.GetFromJsonAsync<JsonElement>("/api/inventory/items/gadget");
        Assert.Equal(10, item.GetProperty("stock").GetInt64());
        Assert.Equal(0, item.GetProperty("reserved").GetInt64());
        Assert.Equal((100, 0), await host.GetAccountAsync("erin"));
        Assert.Empty(await PreparedAsync(database));
    }

    [Fact]
    public async Task Order_WithADuplicateOrderId_IsVotedNoByTheDatabase()
    {
        var database = await postgres.DatabaseAsync(nameof(Order_WithADuplicateOrderId_IsVotedNoByTheDatabase));
        await using var host = await StartAsync(database);

        var first = await PlaceAsync(host, "tx-o3", "o-3", quantity: 1, price: 10);
        var second = await PlaceAsync(host, "tx-o4", "o-3", quantity: 1, price: 10);

        Assert.Equal("Committed", first.GetProperty("status").GetString());
        Assert.Equal("Aborted", second.GetProperty("status").GetString());
        Assert.StartsWith("participant 'orders' voted No", second.GetProperty("reason").GetString(), StringComparison.Ordinal);
        Assert.Equal((90, 0), await host.GetAccountAsync("erin"));
        Assert.Equal(9, (await host.Client.GetFromJsonAsync<JsonElement>("/api/inventory/items/gadget")).GetProperty("stock").GetInt64());
        Assert.Empty(await PreparedAsync(database));
    }

    private async Task<TestHost> StartAsync(string database)
    {
        var host = await TestHost.StartAsync(azurite.ConnectionString, new Dictionary<string, string?>
        {
            ["TRANSACTIONS_PARTICIPANTS"] = "bank,inventory,orders",
            ["ORDERS_POSTGRES_CONNECTION"] = database,
        });
        await host.Client.PutAsJsonAsync("/api/inventory/items/gadget", new { stock = 10 });
        await host.PutAccountAsync("erin", 100);
        await host.PutAccountAsync("store", 0);
        return host;
    }

    private static async Task<JsonElement> PlaceAsync(TestHost host, string transactionId, string orderId, int quantity, int price)
    {
        var response = await host.StartAsync(new
        {
            transactionId,
            participants = new object[]
            {
                new { participant = "orders", operation = new { type = "place", orderId, sku = "gadget", quantity, customer = "erin" } },
                new { participant = "inventory", operation = new { type = "reserve", sku = "gadget", quantity } },
                new { participant = "bank", operation = new { type = "debit", account = "erin", amount = price } },
                new { participant = "bank", operation = new { type = "credit", account = "store", amount = price } },
            },
        }, waitSeconds: 30);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }

    private static async Task<List<string>> PreparedAsync(string database)
    {
        await using var connection = new NpgsqlConnection(database);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT gid FROM pg_prepared_xacts WHERE database = current_database()", connection);
        var gids = new List<string>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            gids.Add(reader.GetString(0));
        }

        return gids;
    }
}
