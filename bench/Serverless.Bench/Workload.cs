using System.Globalization;
using System.Net.Http.Json;

namespace Serverless.Bench;

/// <summary>Which coordinator a phase's transactions go to.</summary>
public enum Orchestration
{
    /// <summary>The product: <c>POST /api/transactions</c>, the <c>TwoPhaseCommit</c> orchestration.</summary>
    Product,

    /// <summary>The textbook 2PC kept in the benchmark (<see cref="Textbook.TextbookTwoPhaseCommitFunctions"/>): <c>POST /api/textbook/transactions</c>, bank branches only.</summary>
    Textbook,
}

/// <summary>What one phase runs: how many transactions, how many at a time, of which shape, against which coordinator.</summary>
/// <param name="Name">Short name, also the start of every transaction id of the phase.</param>
/// <param name="Branches">
/// 2 (a bank transfer), 5 (a debit, two credits, two stock reservations), 1 (a debit: the one-phase case) or 3 (an order:
/// the money, a credit to the shop, a stock reservation).
/// </param>
/// <param name="Concurrency">Transactions in flight at once (client-side, each a POST with waitSeconds).</param>
/// <param name="Transactions">How many the phase starts.</param>
/// <param name="AbortShare">Share of transfers that debit an empty account, so the bank votes No and they abort.</param>
/// <param name="Orchestration">The coordinator under test. Default the product.</param>
/// <param name="Mixed">
/// For the 3-branch order: the money is a saga charge at the payment service, the stock reservation a TCC branch (the
/// mixed order), instead of a 2PC bank debit and a 2PC reservation.
/// </param>
/// <param name="TimeoutSeconds">The phase's vote deadline, instead of the run's <c>--timeout-seconds</c>.</param>
public sealed record Scenario(string Name, int Branches, int Concurrency, int Transactions, double AbortShare = 0, Orchestration Orchestration = Orchestration.Product, bool Mixed = false, int? TimeoutSeconds = null)
{
    public string Description => (Orchestration == Orchestration.Textbook ? $"{Shape} (textbook)" : Shape) + (TimeoutSeconds is { } t ? $", {t} s deadlines" : string.Empty);

    private string Shape => Branches == 3
        ? Mixed ? $"order: saga charge, 2pc, tcc, c={Concurrency}" : $"order: 2pc x3, c={Concurrency}"
        : Branches == 5
        ? $"5-branch (bank x3, inventory x2), c={Concurrency}"
        : Branches == 1
            ? $"1-branch debit (one-phase), c={Concurrency}"
        : AbortShare > 0
            ? $"2-branch, {AbortShare:P0} aborts, c={Concurrency}"
            : $"2-branch transfer, c={Concurrency}";
}

/// <summary>
/// The data the transactions work on and the request bodies. Many accounts, so that concurrent transfers rarely
/// touch the same row (the benchmark measures the coordinator, not contention on one hot account); balances large
/// enough never to run out; a few empty accounts whose debits are refused (the abort mix).
/// </summary>
public sealed class Workload(int accounts = 2000, int emptyAccounts = 50, int skus = 200, int cards = 200)
{
    public const long StartingBalance = 1_000_000_000_000;

    /// <summary>Creates the cards the mixed order charges at the payment service.</summary>
    public async Task SeedCardsAsync(Serverless.Testing.PaymentsServer payments, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(payments);
        await Parallel.ForEachAsync(Enumerable.Range(0, cards), new ParallelOptions { MaxDegreeOfParallelism = 8, CancellationToken = cancellationToken }, async (i, ct) =>
            await payments.SetBalanceAsync(Card(i), StartingBalance, ct));
    }

    public IEnumerable<string> AccountIds => Enumerable.Range(0, accounts).Select(Account);

    /// <summary>Creates the accounts and items through the public API (PUT), a few requests at a time.</summary>
    public async Task SeedAsync(HttpClient client, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(client);
        var puts = Enumerable.Range(0, accounts).Select(i => ($"/api/bank/accounts/{Account(i)}", (object)new { balance = StartingBalance }))
            .Concat(Enumerable.Range(0, emptyAccounts).Select(i => ($"/api/bank/accounts/{Empty(i)}", (object)new { balance = 0L })))
            .Concat(Enumerable.Range(0, skus).Select(i => ($"/api/inventory/items/{Sku(i)}", (object)new { stock = StartingBalance })));
        await Parallel.ForEachAsync(puts, new ParallelOptions { MaxDegreeOfParallelism = 16, CancellationToken = cancellationToken }, async (put, ct) =>
        {
            using var response = await client.PutAsJsonAsync(put.Item1, put.Item2, ct);
            if (!response.IsSuccessStatusCode)
            {
                throw new InvalidOperationException($"seeding PUT {put.Item1} answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync(ct)}");
            }
        });
    }

    /// <summary>A start request of <paramref name="scenario"/>'s shape, with random accounts drawn from <paramref name="random"/>.</summary>
    public object Request(Scenario scenario, string id, int timeoutSeconds, Random random)
    {
        ArgumentNullException.ThrowIfNull(scenario);
        ArgumentNullException.ThrowIfNull(random);
        var from = random.Next(accounts);
        var to = (from + 1 + random.Next(accounts - 1)) % accounts;
        var amount = 1 + random.Next(100);
        var refused = scenario.AbortShare > 0 && random.NextDouble() < scenario.AbortShare;
        if (scenario.Branches == 3)
        {
            var sku = Sku(random.Next(skus));
            object money = scenario.Mixed
                ? new { participant = "payments", kind = "saga", operation = new { type = "charge", account = Card(random.Next(cards)), amount } }
                : Bank("debit", Account(from), amount);
            object stock = scenario.Mixed
                ? new { participant = "inventory", kind = "tcc", operation = new { type = "reserve", sku, quantity = 1 } }
                : new { participant = "inventory", operation = new { type = "reserve", sku, quantity = 1 } };
            return new { transactionId = id, timeoutSeconds, participants = new[] { money, Bank("credit", Account(to), amount), stock } };
        }

        if (scenario.Branches == 1)
        {
            // One debit: the prepare is its only message (a refused one, as in the warm-up, is decided Abort at its vote).
            return new { transactionId = id, timeoutSeconds, participants = new[] { Bank("debit", refused ? Empty(random.Next(emptyAccounts)) : Account(from), amount) } };
        }

        var branches = new List<object>
        {
            Bank("debit", refused ? Empty(random.Next(emptyAccounts)) : Account(from), amount),
            Bank("credit", Account(to), amount),
        };
        if (scenario.Branches == 5)
        {
            branches.Add(Bank("credit", Account((to + 1 + random.Next(accounts - 2)) % accounts), 1));
            var sku = random.Next(skus);
            branches.Add(new { participant = "inventory", operation = new { type = "reserve", sku = Sku(sku), quantity = 1 } });
            branches.Add(new { participant = "inventory", operation = new { type = "reserve", sku = Sku((sku + 1) % skus), quantity = 2 } });
        }
        else if (scenario.Branches != 2)
        {
            throw new ArgumentException("the benchmark knows 1-, 2-, 3- and 5-branch transactions", nameof(scenario));
        }

        return new { transactionId = id, timeoutSeconds, participants = branches };
    }

    public static string Account(int i) => "a" + i.ToString("D5", CultureInfo.InvariantCulture);

    private static string Card(int i) => "card" + i.ToString("D4", CultureInfo.InvariantCulture);

    private static string Empty(int i) => "empty" + i.ToString("D3", CultureInfo.InvariantCulture);

    private static string Sku(int i) => "sku" + i.ToString("D4", CultureInfo.InvariantCulture);

    private static object Bank(string type, string account, long amount) =>
        new { participant = "bank", operation = new { type, account, amount } };
}
