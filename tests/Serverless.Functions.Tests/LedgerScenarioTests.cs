using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Serverless.Core.Participants;
using Serverless.Core.Protocol;
using Serverless.Functions.Participants;
using Serverless.Participants.MySql;
using Serverless.Testing;

namespace Serverless.Functions.Tests;

/// <summary>
/// The seed's cross-database scenarios over the HTTP API: money in MySQL (the <c>ledger</c>, XA), in Table storage (<c>bank</c>),
/// an order in PostgreSQL (<c>orders</c>) and stock in Table storage (<c>inventory</c>), committing or aborting as one. After
/// every test, XA RECOVER shows no branch of the ledger.
/// </summary>
public sealed class LedgerScenarioTests(LedgerScenarioTests.Fixture fixture) : IClassFixture<LedgerScenarioTests.Fixture>, IAsyncLifetime
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    private TestHost Host => fixture.Host;

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() =>
        await Eventually.WaitAsync(async () => (await PreparedAsync()).Count == 0, Wait, "XA RECOVER to show no ledger branch");

    [Fact]
    public async Task Transfer_FromALedgerAccountToABankAccount_CommitsInBothSystemsAsOne()
    {
        var (alice, bob) = (await LedgerAccountAsync(100), await BankAccountAsync(5));

        var doc = await RunAsync(Debit("ledger", alice, 30), Credit("bank", bob, 30));

        Assert.Equal("Committed", doc.GetProperty("status").GetString());
        Assert.All(doc.GetProperty("participants").EnumerateArray(), b => Assert.Equal("Committed", b.GetProperty("outcome").GetString()));
        Assert.Equal(70, await LedgerBalanceAsync(alice));
        Assert.Equal((35, 0), await Host.GetAccountAsync(bob));
        Assert.Equal(105, await LedgerBalanceAsync(alice) + (await Host.GetAccountAsync(bob)).Balance);
    }

    [Fact]
    public async Task Transfer_FromABankAccountToALedgerAccount_CommitsInBothSystemsAsOne()
    {
        var (alice, bob) = (await BankAccountAsync(100), await LedgerAccountAsync(0));

        var doc = await RunAsync(Debit("bank", alice, 45), Credit("ledger", bob, 45));

        Assert.Equal("Committed", doc.GetProperty("status").GetString());
        Assert.Equal((55, 0), await Host.GetAccountAsync(alice));
        Assert.Equal(45, await LedgerBalanceAsync(bob));
    }

    [Fact]
    public async Task Transfer_WhenTheBankVotesNo_RollsBackTheLedgerDebitThatWasPrepared()
    {
        var alice = await LedgerAccountAsync(100);
        var nobody = TestHost.Id("nobody");

        var doc = await RunAsync(Debit("ledger", alice, 30), Credit("bank", nobody, 30));

        Assert.Equal("Aborted", doc.GetProperty("status").GetString());
        Assert.Equal($"participant 'bank' voted No: account '{nobody}' does not exist", doc.GetProperty("reason").GetString());
        Assert.Equal("Yes", doc.GetProperty("participants")[0].GetProperty("vote").GetString());
        Assert.Equal("RolledBack", doc.GetProperty("participants")[0].GetProperty("outcome").GetString());
        Assert.Equal(100, await LedgerBalanceAsync(alice));
    }

    [Fact]
    public async Task Transfer_WhenTheLedgerHasTooLittle_VotesNo_AndTheBankCreditIsRolledBack()
    {
        var (alice, bob) = (await LedgerAccountAsync(20), await BankAccountAsync(0));

        var doc = await RunAsync(Debit("ledger", alice, 21), Credit("bank", bob, 21));

        Assert.Equal("Aborted", doc.GetProperty("status").GetString());
        Assert.Equal($"participant 'ledger' voted No: insufficient funds in '{alice}'", doc.GetProperty("reason").GetString());
        Assert.Equal(20, await LedgerBalanceAsync(alice));
        Assert.Equal((0, 0), await Host.GetAccountAsync(bob));
    }

    [Fact]
    public async Task Purchase_PaidFromTheLedger_PlacesTheOrderInPostgres_ReservesStock_AndMovesTheMoneyInMySql()
    {
        var (customer, store, sku, orderId) = (await LedgerAccountAsync(100), await LedgerAccountAsync(0), await ItemAsync(10), TestHost.Id("o"));

        var doc = await RunAsync(Place(orderId, sku, 3, customer), Reserve(sku, 3), Debit("ledger", customer, 60), Credit("ledger", store, 60));

        Assert.Equal("Committed", doc.GetProperty("status").GetString());
        var order = await Host.Client.GetFromJsonAsync<JsonElement>($"/api/orders/{orderId}");
        Assert.Equal(3, order.GetProperty("quantity").GetInt32());
        Assert.Equal((7L, 0L), await StockAsync(sku));
        Assert.Equal((40L, 60L), (await LedgerBalanceAsync(customer), await LedgerBalanceAsync(store)));
    }

    [Fact]
    public async Task Purchase_WhenStockIsShort_LeavesNoOrder_AndNoMoneyMoved()
    {
        var (customer, store, sku, orderId) = (await LedgerAccountAsync(100), await LedgerAccountAsync(0), await ItemAsync(2), TestHost.Id("o"));

        var doc = await RunAsync(Place(orderId, sku, 3, customer), Reserve(sku, 3), Debit("ledger", customer, 60), Credit("ledger", store, 60));

        Assert.Equal("Aborted", doc.GetProperty("status").GetString());
        Assert.Equal($"participant 'inventory' voted No: insufficient stock of '{sku}'", doc.GetProperty("reason").GetString());
        Assert.Equal(HttpStatusCode.NotFound, (await Host.Client.GetAsync($"/api/orders/{orderId}")).StatusCode);
        Assert.Equal((2L, 0L), await StockAsync(sku));
        Assert.Equal((100L, 0L), (await LedgerBalanceAsync(customer), await LedgerBalanceAsync(store)));
    }

    [Fact]
    public async Task LedgerRoutes_SetAndReadAnAccount_AndAnswer404ForAMissingOne()
    {
        var account = TestHost.Id("l");

        Assert.Equal(HttpStatusCode.NotFound, (await Host.Client.GetAsync($"/api/ledger/accounts/{account}")).StatusCode);
        var put = await Host.Client.PutAsJsonAsync($"/api/ledger/accounts/{account}", new { balance = 12 });
        Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        Assert.Equal($"{{\"account\":\"{account}\",\"balance\":12}}", await put.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.BadRequest, (await Host.Client.PutAsJsonAsync($"/api/ledger/accounts/{account}", new { balance = -1 })).StatusCode);
        Assert.Equal(12, await LedgerBalanceAsync(account));
    }

    /// <summary>
    /// A branch MySQL holds prepared (XA RECOVER) for a transaction the coordinator never heard of, as a participant left it
    /// when its process died between XA PREPARE and its vote: the one in-doubt resolver presumes Abort and the branch is
    /// rolled back with XA ROLLBACK.
    /// </summary>
    [Fact]
    public async Task APreparedLedgerBranchOfAnUnknownTransaction_IsPresumedAborted_ByTheSameResolver()
    {
        var (id, account) = (TestHost.Id("xa-unknown"), await LedgerAccountAsync(100));

        Assert.Equal(Vote.Yes, (await Ledger().PrepareAsync(new BranchKey(id, 0), JsonSerializer.Serialize(new { type = "debit", account, amount = 40 }))).Vote);
        Assert.Single(await PreparedAsync(), x => x.Contains(id, StringComparison.Ordinal));

        await Eventually.WaitAsync(async () => !(await PreparedAsync()).Any(x => x.Contains(id, StringComparison.Ordinal)), Wait, "the prepared branch rolled back by the resolver");
        var recorded = await Host.Decisions.GetAsync(id);
        Assert.Equal(Decision.Abort, recorded?.Decision);
        Assert.Contains("presumed abort", recorded!.Reason, StringComparison.Ordinal);
        Assert.Equal(100, await LedgerBalanceAsync(account));
    }

    /// <summary>A prepared ledger branch whose transaction has Commit recorded and whose commit never came is committed by the resolver.</summary>
    [Fact]
    public async Task APreparedLedgerBranchWhoseCommitWasLost_IsCommittedByTheRecordedDecision()
    {
        var (id, account) = (TestHost.Id("xa-commit"), await LedgerAccountAsync(100));

        Assert.Equal(Vote.Yes, (await Ledger().PrepareAsync(new BranchKey(id, 0), JsonSerializer.Serialize(new { type = "debit", account, amount = 40 }))).Vote);
        await Host.Decisions.RecordAsync(id, new DecisionRecord(Decision.Commit, null, DateTimeOffset.UtcNow, [Vote.Yes]));

        await Eventually.WaitAsync(async () => await LedgerBalanceAsync(account) == 60, Wait, "the prepared branch committed by the resolver");
        Assert.Empty(await PreparedAsync());
    }

    private MySqlResourceManager Ledger() =>
        Assert.IsType<MySqlResourceManager>(Host.Services.GetRequiredService<ParticipantRegistry>().InApp.Find("ledger"));

    private async Task<JsonElement> RunAsync(params object[] branches)
    {
        var response = await Host.StartAsync(new { transactionId = TestHost.Id("tx"), participants = branches }, waitSeconds: 45);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }

    private static object Debit(string participant, string account, long amount) => new { participant, operation = new { type = "debit", account, amount } };

    private static object Credit(string participant, string account, long amount) => new { participant, operation = new { type = "credit", account, amount } };

    private static object Place(string orderId, string sku, int quantity, string customer) =>
        new { participant = "orders", operation = new { type = "place", orderId, sku, quantity, customer } };

    private static object Reserve(string sku, int quantity) => new { participant = "inventory", operation = new { type = "reserve", sku, quantity } };

    private async Task<string> LedgerAccountAsync(long balance)
    {
        var account = TestHost.Id("l");
        Assert.Equal(HttpStatusCode.OK, (await Host.Client.PutAsJsonAsync($"/api/ledger/accounts/{account}", new { balance })).StatusCode);
        return account;
    }

    private async Task<string> BankAccountAsync(long balance)
    {
        var account = TestHost.Id("b");
        Assert.Equal(HttpStatusCode.OK, (await Host.PutAccountAsync(account, balance)).StatusCode);
        return account;
    }

    private async Task<string> ItemAsync(long stock)
    {
        var sku = TestHost.Id("sku");
        Assert.Equal(HttpStatusCode.OK, (await Host.Client.PutAsJsonAsync($"/api/inventory/items/{sku}", new { stock })).StatusCode);
        return sku;
    }

    private async Task<(long Stock, long Reserved)> StockAsync(string sku)
    {
        var item = await Host.Client.GetFromJsonAsync<JsonElement>($"/api/inventory/items/{sku}");
        return (item.GetProperty("stock").GetInt64(), item.GetProperty("reserved").GetInt64());
    }

    private async Task<long> LedgerBalanceAsync(string account) =>
        (await Host.Client.GetFromJsonAsync<JsonElement>($"/api/ledger/accounts/{account}")).GetProperty("balance").GetInt64();

    /// <summary>The ledger's prepared XA branches on the server (this library's formatID).</summary>
    private async Task<List<string>> PreparedAsync() =>
        [.. (await MariaDbServer.PreparedXidsAsync(fixture.Ledger)).Where(x => x.StartsWith($"{0x32504378}:", StringComparison.Ordinal))];

    /// <summary>PostgreSQL and MariaDB with databases of this class's own, and a host that runs every sample participant on them.</summary>
    public sealed class Fixture : IAsyncLifetime
    {
        private readonly PostgresServer _postgres = new();
        private readonly MariaDbServer _mariaDb = new();
        private TestHost? _host;

        public TestHost Host => _host ?? throw new InvalidOperationException("not started");

        public string Ledger { get; private set; } = string.Empty;

        public async Task InitializeAsync()
        {
            await Task.WhenAll(_postgres.InitializeAsync(), _mariaDb.InitializeAsync());
            var orders = await _postgres.DatabaseAsync(nameof(LedgerScenarioTests));
            Ledger = await _mariaDb.DatabaseAsync(nameof(LedgerScenarioTests));
            _host = await TestHost.StartAsync(new Dictionary<string, string?>
            {
                ["TRANSACTIONS_PARTICIPANTS"] = "bank,inventory,orders,ledger",
                ["ORDERS_POSTGRES_CONNECTION"] = orders,
                ["LEDGER_MYSQL_CONNECTION"] = Ledger,
                ["AzureWebJobs.OrdersParticipant.Disabled"] = "false",
                ["AzureWebJobs.LedgerParticipant.Disabled"] = "false",

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
                await _mariaDb.DisposeAsync();
                await _postgres.DisposeAsync();
            }
        }
    }
}
