using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Serverless.Functions.Faults;
using Serverless.Testing;

namespace Serverless.Crash.Tests;

/// <summary>
/// Saga branches under crashes: the host is killed right after a charge went through and before the activity's result was
/// saved, and the redelivered action does not charge twice (its idempotency key); the same after a refund went through, and
/// the redelivered compensation refunds once; and a bounded chaos run of mixed
/// transactions (bank TCC, ledger 2PC in MariaDB, payments saga in its own process) while the host is killed and restarted,
/// after which every balance in the three systems is exactly what the committed transactions made it: money is conserved,
/// no aborted transaction's charge remains, nothing is held.
/// </summary>
[Collection(MariaDbCollection.Name)]
public sealed class MixedChaosTests(HostFixture fixture, MariaDbServer mariaDb, ITestOutputHelper output) : IClassFixture<HostFixture>
{
    private const int TransactionCount = 60;
    private const int ClientCount = 8;
    private const int KillCount = 3;
    private const long InitialBalance = 1000;
    /// <summary>
    /// How long a transaction may take to end: each kill leaves Durable's messages of the moment leased for 30 s, and three
    /// kills, the restarts and the phase-2 backoff in a row took more than 120 s on a busy 2-core machine.
    /// </summary>
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(180);

    [Fact]
    public async Task KilledAfterAChargeWentThrough_BeforeItsResultWasSaved_TheRedeliveredActionDoesNotChargeTwice()
    {
        await using var system = await MixedSystem.StartAsync(fixture, mariaDb, nameof(KilledAfterAChargeWentThrough_BeforeItsResultWasSaved_TheRedeliveredActionDoesNotChargeTwice), CrashPoint.AfterSagaActionApplied);
        await system.SeedAsync(["card"], ["shop"], []);
        var id = $"saga-crash-{TestNames.UniquePrefix()}";

        using (var started = await system.Host.Client.PostAsJsonAsync("/api/transactions", Body(id, 30, Charge("card", 30), Credit("bank", "shop", 30))))
        {
            Assert.Equal(HttpStatusCode.Accepted, started.StatusCode);
        }

        var line = await system.Host.WaitForCrashAsync(Timeout);
        Assert.Contains(nameof(CrashPoint.AfterSagaActionApplied), line, StringComparison.Ordinal);
        Assert.Equal(970, await system.Payments.BalanceAsync("card"));

        await system.Host.StartAgainAsync();
        var document = await system.Host.WaitForEndAsync(id, Timeout);
        Assert.True(document.GetProperty("status").GetString() == "Committed", document.ToString());
        Assert.Equal(2, await system.Payments.ChargeRequestsAsync("card"));
        Assert.Equal(970, await system.Payments.BalanceAsync("card"));
        Assert.Equal((1030L, 0L), await TestHost.GetAccountAsync(system.Host.Client, "shop"));
    }

    [Fact]
    public async Task KilledAfterARefundWentThrough_BeforeItsResultWasSaved_TheRedeliveredCompensationRefundsOnce_AndTheTransactionAborts()
    {
        await using var system = await MixedSystem.StartAsync(fixture, mariaDb, nameof(KilledAfterARefundWentThrough_BeforeItsResultWasSaved_TheRedeliveredCompensationRefundsOnce_AndTheTransactionAborts), CrashPoint.AfterSagaCompensated);
        await system.SeedAsync(["card"], ["shop"], []);
        await system.Payments.SetBalanceAsync("poor", 10);
        var id = $"refund-crash-{TestNames.UniquePrefix()}";

        // The first charge goes through; the second is declined, so both are compensated: a refund, and a cancellation.
        using (var started = await system.Host.Client.PostAsJsonAsync("/api/transactions", Body(id, 30, Credit("bank", "shop", 80), Charge("card", 30), Charge("poor", 50))))
        {
            Assert.Equal(HttpStatusCode.Accepted, started.StatusCode);
        }

        var line = await system.Host.WaitForCrashAsync(Timeout);
        Assert.Contains(nameof(CrashPoint.AfterSagaCompensated), line, StringComparison.Ordinal);

        await system.Host.StartAgainAsync();
        var document = await system.Host.WaitForEndAsync(id, Timeout);
        Assert.True(document.GetProperty("status").GetString() == "Aborted", document.ToString());
        Assert.Equal("saga action of 'payments' was not applied: insufficient funds in 'poor'", document.GetProperty("reason").GetString());
        Assert.All(document.GetProperty("participants").EnumerateArray(), b => Assert.Equal("RolledBack", b.GetProperty("outcome").GetString()));
        Assert.Equal("refunded", (await system.Payments.Client.GetFromJsonAsync<JsonElement>($"/charges/{document.GetProperty("participants")[1].GetProperty("key").GetString()}")).GetProperty("status").GetString());
        Assert.Equal(InitialBalance, await system.Payments.BalanceAsync("card"));
        Assert.Equal(10, await system.Payments.BalanceAsync("poor"));
        Assert.Equal((InitialBalance, 0L), await TestHost.GetAccountAsync(system.Host.Client, "shop"));
    }

    [Fact]
    public async Task MixedTransactionsWhileTheHostIsKilledRepeatedly_EndWithEveryBalanceExactlyWhatTheCommittedOnesMade()
    {
        var seed = Environment.TickCount;
        output.WriteLine($"seed {seed}");
        var random = new Random(seed);
        await using var system = await MixedSystem.StartAsync(fixture, mariaDb, nameof(MixedTransactionsWhileTheHostIsKilledRepeatedly_EndWithEveryBalanceExactlyWhatTheCommittedOnesMade));
        string[] bank = ["b0", "b1", "b2"], ledger = ["l0", "l1", "l2"], cards = ["c0", "c1", "c2"];
        await system.SeedAsync(cards, bank, ledger);

        var prefix = TestNames.UniquePrefix();
        var plans = Enumerable.Range(0, TransactionCount).Select(i => Plan($"mixed-{prefix}-{i}", i, random, bank, ledger, cards)).ToList();
        var transfers = plans.Select(p => p.Transfer).ToList();

        var stopwatch = Stopwatch.StartNew();
        var work = new ConcurrentQueue<Transfer>(transfers);
        using var http = new HttpClient { BaseAddress = system.Host.BaseAddress, Timeout = TimeSpan.FromSeconds(20) };
        var clients = Task.WhenAll(Enumerable.Range(0, ClientCount).Select(_ => Task.Run(async () =>
        {
            while (work.TryDequeue(out var transfer))
            {
                await TransferClient.RunAsync(transfer, Timeout, http);
            }
        })));
        var kills = await ChaosTests.KillRepeatedlyAsync(system.Host, random, clients, KillCount);
        await clients.WaitAsync(Timeout + Timeout);
        foreach (var kill in kills)
        {
            output.WriteLine($"kill at {kill.At:HH:mm:ss.fff}: {kill.What}");
        }

        var ends = await Ledger.WaitForAllToEndAsync(system.Host.Client, transfers, Timeout);
        var expected = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var account in bank.Select(a => $"bank:{a}").Concat(ledger.Select(a => $"ledger:{a}")).Concat(cards.Select(a => $"payments:{a}")))
        {
            expected[account] = InitialBalance;
        }

        var committed = 0;
        foreach (var plan in plans.Where(p => ends[p.Transfer.Id].GetProperty("status").GetString() == "Committed"))
        {
            committed++;
            foreach (var (account, delta) in plan.Deltas)
            {
                expected[account] += delta;
            }
        }

        // Every balance in the three systems, and what the bank and the database still hold, once the last phase 2 is done.
        await Eventually.WaitAsync(async () => (await system.BalancesAsync(bank, ledger, cards)).SequenceEqual(expected.OrderBy(e => e.Key, StringComparer.Ordinal)), Timeout, "balances to be what the committed transactions made them");
        Assert.Equal(9 * InitialBalance, (await system.BalancesAsync(bank, ledger, cards)).Sum(b => b.Value));
        foreach (var account in bank)
        {
            Assert.Equal(0L, (await TestHost.GetAccountAsync(system.Host.Client, account)).Held);
        }

        Assert.Empty(await MariaDbServer.PreparedXidsAsync(system.Database));
        var heuristics = ends.Values.SelectMany(d => d.GetProperty("participants").EnumerateArray()).Count(b => b.GetProperty("heuristic").ValueKind != JsonValueKind.Null);
        Assert.Equal(0, heuristics);
        var complaints = system.Host.OutputLines.Where(l => l.Contains(" crit: ", StringComparison.Ordinal)).ToList();
        Assert.True(complaints.Count == 0, string.Join('\n', complaints.Take(5)));
        output.WriteLine($"{TransactionCount} mixed transactions, {committed} committed, {kills.Count} kills, {system.Host.Starts} host starts, {stopwatch.Elapsed.TotalSeconds:0.0} s");
        Assert.True(committed > 0 && committed < TransactionCount, $"{committed} of {TransactionCount} committed: the run should see both outcomes");
    }

    /// <summary>
    /// One random transaction: a transfer from a card (saga charge), a bank account (TCC debit) or a ledger account (2PC
    /// debit) to a bank or ledger account, sometimes with a second charge; one in six with a deadline that may pass while
    /// the host is down. <see cref="TransactionPlan.Deltas"/> is what it changes if it commits.
    /// </summary>
    private static TransactionPlan Plan(string id, int i, Random random, string[] bank, string[] ledger, string[] cards)
    {
        var amount = random.Next(1, 300);
        var deltas = new List<(string, long)>();
        var branches = new List<object>();
        switch (random.Next(4))
        {
            case 0:
                var from = bank[random.Next(bank.Length)];
                branches.Add(new { participant = "bank", kind = "tcc", operation = new { type = "debit", account = from, amount } });
                deltas.Add(($"bank:{from}", -amount));
                break;
            case 1:
                var source = ledger[random.Next(ledger.Length)];
                branches.Add(new { participant = "ledger", operation = new { type = "debit", account = source, amount } });
                deltas.Add(($"ledger:{source}", -amount));
                break;
            default:
                var charges = random.Next(2) + 1;
                for (var c = 0; c < charges; c++)
                {
                    var card = cards[random.Next(cards.Length)];
                    var part = c == 0 ? amount : random.Next(1, 300);
                    branches.Add(Charge(card, part));
                    deltas.Add(($"payments:{card}", -part));
                }

                break;
        }

        var total = -deltas.Sum(d => d.Item2);
        // Never to the account it takes from: one XA branch would wait on the other's row lock.
        var (toParticipant, accounts) = random.Next(2) == 0 ? ("bank", bank) : ("ledger", ledger);
        var targets = accounts.Where(a => !deltas.Any(d => d.Item1 == $"{toParticipant}:{a}")).ToArray();
        var to = targets[random.Next(targets.Length)];
        branches.Insert(random.Next(branches.Count + 1), Credit(toParticipant, to, total));
        deltas.Add(($"{toParticipant}:{to}", total));
        return new TransactionPlan(new Transfer(id, "", "", total) { TimeoutSeconds = i % 6 == 0 ? 2 : 30, Branches = branches }, deltas);
    }

    private static object Charge(string card, long amount) =>
        new { participant = "payments", kind = "saga", operation = new { type = "charge", account = card, amount } };

    private static object Credit(string participant, string account, long amount) =>
        new { participant, operation = new { type = "credit", account, amount } };

    private static object Body(string id, int timeoutSeconds, params object[] branches) =>
        new { transactionId = id, timeoutSeconds, participants = branches };

    private sealed record TransactionPlan(Transfer Transfer, IReadOnlyList<(string Account, long Delta)> Deltas);

    /// <summary>A host running bank and ledger and calling payments, on storage, a database and a payment service of its own.</summary>
    private sealed class MixedSystem(AzuriteInstance storage, HostProcess host, PaymentsServer payments, string database) : IAsyncDisposable
    {
        public HostProcess Host => host;

        public PaymentsServer Payments => payments;

        public string Database => database;

        public static async Task<MixedSystem> StartAsync(HostFixture fixture, MariaDbServer mariaDb, string test, CrashPoint? point = null)
        {
            var database = await mariaDb.DatabaseAsync($"{nameof(MixedChaosTests)}{Math.Abs(test.GetHashCode(StringComparison.Ordinal)) % 100000}");
            var storage = await fixture.StartStorageAsync();
            var payments = await PaymentsServer.StartAsync();
            var lease = TimeSpan.FromSeconds(5).ToString("c", CultureInfo.InvariantCulture);
            var host = await HostProcess.StartAsync("A", fixture, storage, point, extraEnvironment: new Dictionary<string, string?>
            {
                [HostProcess.DurableLeaseSetting("controlQueueVisibilityTimeout")] = lease,
                [HostProcess.DurableLeaseSetting("workItemQueueVisibilityTimeout")] = lease,
                ["LOCALHOST_QUEUE_MESSAGE_LEASE_SECONDS"] = "3",
                ["TRANSACTIONS_LOCAL_DELIVERY_LEASE_SECONDS"] = "3",
                ["TRANSACTIONS_PARTICIPANTS"] = "bank,ledger",
                ["LEDGER_MYSQL_CONNECTION"] = database,
                ["AzureWebJobs.LedgerParticipant.Disabled"] = "false",
                ["PAYMENTS_URL"] = payments.BaseUrl.ToString(),
                [PaymentsServer.ApiKeySetting] = payments.ApiKey,
                ["PAYMENTS_TIMEOUT_SECONDS"] = "5",

                // A killed host's saga action is redelivered after its restart and the lease: the saga phase's limit must
                // not end the transaction first, or a test of that redelivery would see an abort.
                ["TRANSACTIONS_SAGA_PHASE_SECONDS"] = "60",
            });
            return new MixedSystem(storage, host, payments, database);
        }

        public async Task SeedAsync(string[] cards, string[] bank, string[] ledger)
        {
            foreach (var card in cards)
            {
                await payments.SetBalanceAsync(card, InitialBalance);
            }

            foreach (var account in bank)
            {
                await host.PutAccountAsync(account, InitialBalance);
            }

            foreach (var account in ledger)
            {
                using var response = await host.Client.PutAsJsonAsync($"/api/ledger/accounts/{account}", new { balance = InitialBalance });
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            }
        }

        /// <summary>Every balance, keyed "system:account", in key order.</summary>
        public async Task<List<KeyValuePair<string, long>>> BalancesAsync(string[] bank, string[] ledger, string[] cards)
        {
            var all = new Dictionary<string, long>(StringComparer.Ordinal);
            foreach (var account in bank)
            {
                all[$"bank:{account}"] = (await TestHost.GetAccountAsync(host.Client, account)).Balance;
            }

            foreach (var account in ledger)
            {
                all[$"ledger:{account}"] = (await host.Client.GetFromJsonAsync<JsonElement>($"/api/ledger/accounts/{account}")).GetProperty("balance").GetInt64();
            }

            foreach (var card in cards)
            {
                all[$"payments:{card}"] = await payments.BalanceAsync(card) ?? throw new InvalidOperationException($"no card {card}");
            }

            return [.. all.OrderBy(e => e.Key, StringComparer.Ordinal)];
        }

        public async ValueTask DisposeAsync()
        {
            await host.DisposeAsync();
            await payments.DisposeAsync();
            await storage.DisposeAsync();
        }
    }
}
