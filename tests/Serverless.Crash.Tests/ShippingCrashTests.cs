using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.Json;
using Serverless.Core.Messaging;
using Serverless.Testing;

namespace Serverless.Crash.Tests;

/// <summary>
/// The shipping app (another team's isolated-worker app on the participant kit, a process of its own with its own PostgreSQL
/// database) killed with SIGKILL at random moments while orders run: each a bank debit, a bank credit and a shipment, some
/// without an address (refused by shipping, so aborted), some with a vote deadline short enough to pass while shipping is
/// down. The coordinator (a host process) is not killed. Afterwards every order has ended within I7's bound; a committed one
/// has its shipment and its transfer, an aborted one neither; shipping's database holds no prepared transaction; the bank's
/// balances are the initial ones plus the committed transfers, with nothing held.
/// </summary>
public sealed class ShippingCrashTests(HostFixture fixture, PostgresServer postgres, ITestOutputHelper output)
    : IClassFixture<HostFixture>, IClassFixture<PostgresServer>
{
    private const int OrderCount = 36;
    private const int ClientCount = 6;
    private const int KillCount = 3;
    private const int MinimumKills = 2;
    private const long InitialBalance = 1000;
    private const string SigningKey = "shipping-crash-tests-signing-key-0123456789";

    /// <summary>The coordinator's <c>TRANSACTIONS_IN_DOUBT_SECONDS</c>: the default.</summary>
    private const int InDoubtSeconds = 60;

    private static readonly TimeSpan ClientPatience = TimeSpan.FromSeconds(150);
    private static readonly TimeSpan RunTimeout = TimeSpan.FromSeconds(240);
    private static readonly TimeSpan EndTimeout = TimeSpan.FromSeconds(120);

    [Fact]
    public async Task OrdersWhileTheShippingAppIsKilledRepeatedly_EachEndCommittedWithItsShipmentOrAbortedWithout_AndTheMoneyIsConserved()
    {
        var seed = Environment.TickCount;
        output.WriteLine($"seed {seed}");
        var random = new Random(seed);
        var accounts = Enumerable.Range(0, 4).Select(i => $"acct{i}").ToArray();
        var prefix = TestNames.UniquePrefix();
        var orders = Enumerable.Range(0, OrderCount).Select(i => Plan(i, prefix, accounts, random)).ToList();
        var transfers = orders.Select(o => o.Transfer).ToList();

        await using var storage = await fixture.StartStorageAsync();
        var probe = new StorageProbe(storage.ConnectionString);
        await using var host = await HostProcess.StartAsync("A", fixture, storage, extraEnvironment: new Dictionary<string, string?>
        {
            ["TRANSACTIONS_SIGNING_KEY"] = SigningKey,
            ["TRANSACTIONS_PARTICIPANTS"] = "bank,shipping",
            ["PARTICIPANT_SHIPPING_KINDS"] = "2pc",
        });
        await using var shipping = await ShippingServer.StartAsync(
            storage.ConnectionString,
            ParticipantKeyring.DeriveKey(SigningKey, "shipping"),
            await postgres.DatabaseAsync(nameof(ShippingCrashTests)),
            new Dictionary<string, string?>
            {
                // What a killed shipping process held comes back 5 s later, not the default 30 s (longer than most deadlines).
                ["LOCALHOST_QUEUE_MESSAGE_LEASE_SECONDS"] = "5",
            });
        foreach (var account in accounts)
        {
            await host.PutAccountAsync(account, InitialBalance);
        }

        var stopwatch = Stopwatch.StartNew();
        var work = new ConcurrentQueue<Transfer>(transfers);
        using var http = new HttpClient { BaseAddress = host.BaseAddress, Timeout = TimeSpan.FromSeconds(20) };
        var clients = Task.WhenAll(Enumerable.Range(0, ClientCount).Select(_ => Task.Run(async () =>
        {
            while (work.TryDequeue(out var transfer))
            {
                await TransferClient.RunAsync(transfer, ClientPatience, http);
            }
        })));

        var kills = await KillRepeatedlyAsync(shipping, random, clients);
        await clients.WaitAsync(RunTimeout);
        output.WriteLine($"clients done after {stopwatch.Elapsed.TotalSeconds:0.0} s");
        foreach (var kill in kills)
        {
            output.WriteLine($"kill at {kill.At:HH:mm:ss.fff}: {kill.What}");
        }

        var ends = await Ledger.WaitForAllToEndAsync(host.Client, transfers, EndTimeout);

        // The coordinator's view: all or nothing per order, its one recorded decision, within I7's bound.
        var decisions = await probe.DecisionsAsync();
        foreach (var order in orders)
        {
            var doc = ends[order.Transfer.Id];
            var status = doc.GetProperty("status").GetString();
            var branches = doc.GetProperty("participants").EnumerateArray().ToList();
            Assert.Equal(3, branches.Count);
            Assert.True(decisions.TryGetValue(order.Transfer.Id, out var decision), $"{order.Transfer.Id} ended without a decision record");
            Assert.Equal(doc.GetProperty("decision").GetString(), decision);
            if (status == "Committed")
            {
                Assert.Equal("Commit", decision);
                Assert.All(branches, b => Assert.Equal("Committed", b.GetProperty("outcome").GetString()));
                Assert.False(order.Address.Length == 0, $"{order.Transfer.Id} committed a shipment without an address: {doc}");
            }
            else
            {
                Assert.Equal("Abort", decision);
                Assert.All(branches, b => Assert.NotEqual("Committed", b.GetProperty("outcome").GetString()));
            }

            var took = doc.GetProperty("completedAt").GetDateTimeOffset() - doc.GetProperty("createdAt").GetDateTimeOffset();
            var bound = TimeSpan.FromSeconds(order.Transfer.TimeoutSeconds + InDoubtSeconds + 60);
            Assert.True(took <= bound, $"{order.Transfer.Id} (deadline {order.Transfer.TimeoutSeconds} s) took {took.TotalSeconds:0.0} s to end, over its bound of {bound.TotalSeconds:0} s");
        }

        var committed = orders.Where(o => ends[o.Transfer.Id].GetProperty("status").GetString() == "Committed").ToList();

        // Shipping's view: a shipment for every committed order and for no other; nothing left prepared.
        foreach (var order in orders)
        {
            var shipment = await shipping.ShipmentAsync(order.OrderId);
            if (committed.Contains(order))
            {
                Assert.True(shipment is not null, $"committed order {order.Transfer.Id} has no shipment");
                Assert.Equal(order.Address, shipment.Value.GetProperty("address").GetString());
                Assert.Equal("scheduled", shipment.Value.GetProperty("status").GetString());
            }
            else
            {
                Assert.True(shipment is null, $"aborted order {order.Transfer.Id} has a shipment: {shipment}");
            }
        }

        Assert.Equal(committed.Count, await shipping.ShipmentCountAsync());
        var prepared = await shipping.PreparedGidsAsync();
        Assert.True(prepared.Count == 0, $"shipping's database still holds prepared transactions: {string.Join(", ", prepared)}");

        // The bank's view: exactly the committed transfers, money conserved, nothing held.
        var expected = accounts.ToDictionary(a => a, _ => InitialBalance, StringComparer.Ordinal);
        foreach (var order in committed)
        {
            expected[order.Transfer.From] -= order.Transfer.Amount;
            expected[order.Transfer.To] += order.Transfer.Amount;
        }

        var balances = await probe.AccountsAsync();
        Assert.Equal(accounts.Order(StringComparer.Ordinal), balances.Keys.Order(StringComparer.Ordinal));
        foreach (var (account, balance) in expected)
        {
            Assert.True(balances[account] == (balance, 0), $"account {account}: expected balance {balance} held 0, found {balances[account]}");
        }

        Assert.Equal(accounts.Length * InitialBalance, balances.Values.Sum(b => b.Balance));

        // Every orchestration returned, nothing was poisoned, and the coordinator saw no protocol violation.
        var unfinished = await Eventually.WaitAsync(
            async () => string.Join(", ", (await probe.InstanceStatusesAsync()).Where(i => i.Value != "Completed").Select(i => $"{i.Key} {i.Value}")),
            none => none.Length == 0,
            TimeSpan.FromSeconds(30),
            "every orchestration to be Completed (the last value lists those that are not)");
        Assert.Empty(unfinished);
        var poison = await probe.PoisonMessagesAsync();
        Assert.True(poison.Count == 0, $"poison messages:\n{string.Join('\n', poison)}");
        var critical = host.OutputLines.Where(l => l.Contains(" crit: ", StringComparison.Ordinal)).ToList();
        Assert.True(critical.Count == 0, string.Join('\n', critical.Take(5)));

        var aborted = orders.Except(committed).ToList();
        output.WriteLine(
            $"{OrderCount} orders: {committed.Count} committed, {aborted.Count} aborted ({aborted.Count(o => o.Address.Length == 0)} without an address); " +
            $"{kills.Count} kills; {stopwatch.Elapsed.TotalSeconds:0.0} s");
        foreach (var reason in aborted.GroupBy(o => ReasonKind(ends[o.Transfer.Id].GetProperty("reason").GetString())).Select(g => $"{g.Count()} × {g.Key}"))
        {
            output.WriteLine($"  {reason}");
        }

        Assert.True(kills.Count >= MinimumKills, $"only {kills.Count} kills happened before the clients were done");
        Assert.All(orders.Where(o => o.Address.Length == 0), o => Assert.Equal("Aborted", ends[o.Transfer.Id].GetProperty("status").GetString()));
        Assert.NotEmpty(committed);
    }

    /// <summary>
    /// Up to <see cref="KillCount"/> times while the clients run: let shipping work for a random 1–3 s, SIGKILL it, keep it
    /// down for a random 0.2–1.5 s, and start it again on the same database and port (waiting until it answers).
    /// </summary>
    private static async Task<List<(DateTimeOffset At, string What)>> KillRepeatedlyAsync(ShippingServer shipping, Random random, Task clients)
    {
        var kills = new List<(DateTimeOffset At, string What)>();
        for (var k = 1; k <= KillCount; k++)
        {
            var uptime = TimeSpan.FromMilliseconds(random.Next(1000, 3000));
            await Task.WhenAny(Task.Delay(uptime), clients);
            if (clients.IsCompleted)
            {
                break;
            }

            Assert.True(shipping.IsRunning, $"the shipping app ended by itself:\n{shipping.Output}");
            await shipping.KillAsync();
            var at = DateTimeOffset.UtcNow;
            var down = TimeSpan.FromMilliseconds(random.Next(200, 1500));
            await Task.Delay(down);
            var restart = Stopwatch.StartNew();
            await shipping.RestartAsync();
            kills.Add((at, $"#{k} SIGKILL after {uptime.TotalSeconds:0.0} s up; down {down.TotalSeconds:0.0} s, then {restart.Elapsed.TotalSeconds:0.0} s to start again"));
        }

        return kills;
    }

    /// <summary>
    /// Order <paramref name="i"/>: a transfer between two different accounts and the shipment of a unique order id; one in six
    /// without an address (shipping votes No), one in eight with a 2 s vote deadline that a kill can make pass.
    /// </summary>
    private static Order Plan(int i, string prefix, string[] accounts, Random random)
    {
        var from = accounts[random.Next(accounts.Length)];
        var to = accounts.Where(a => a != from).ElementAt(random.Next(accounts.Length - 1));
        var amount = random.Next(1, 150);
        var orderId = $"ship-{prefix}-{i}";
        var address = i % 6 == 2 ? "" : $"{i} Harbour Road";
        var transfer = new Transfer($"shipcrash-{prefix}-{i}", from, to, amount)
        {
            TimeoutSeconds = i % 8 == 5 ? 2 : 30,
            Branches =
            [
                new { participant = "bank", operation = new { type = "debit", account = from, amount } },
                new { participant = "bank", operation = new { type = "credit", account = to, amount } },
                new { participant = "shipping", operation = new { type = "schedule", orderId, address } },
            ],
        };
        return new Order(transfer, orderId, address);
    }

    private static string ReasonKind(string? reason) => reason switch
    {
        null => "without reason",
        _ when reason.Contains("has no address", StringComparison.Ordinal) => "shipping: no address",
        _ when reason.Contains("deadline", StringComparison.Ordinal) => "vote deadline",
        _ when reason.Contains("insufficient funds", StringComparison.Ordinal) => "insufficient funds",
        _ => reason,
    };

    private sealed record Order(Transfer Transfer, string OrderId, string Address);
}
