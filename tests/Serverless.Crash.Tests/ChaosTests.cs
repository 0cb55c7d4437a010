using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.Http.Json;
using Serverless.Functions.Faults;

namespace Serverless.Crash.Tests;

/// <summary>
/// A bounded chaos run: 150 concurrent transfers among a handful of accounts while the host is killed and
/// restarted several times, with clients retrying the same transaction id while it is down. Every other restart arms a
/// random crash point (<see cref="CrashPoints"/>) at a random hit, so kills land both at random moments (SIGKILL from
/// outside) and exactly at protocol steps (the host killing itself there): during prepares, between the decision and
/// phase 2, during phase 2. The host runs with host.json as shipped (Durable's leases included), and every transaction
/// must end within its vote deadline + <c>TRANSACTIONS_IN_DOUBT_SECONDS</c> + 60 s (I7), while no status read shows it
/// undecided once its decision is recorded.
/// </summary>
public sealed class ChaosTests(HostFixture fixture, ITestOutputHelper output) : IClassFixture<HostFixture>
{
    private const int TransferCount = 150;
    private const int ClientCount = 16;
    private const int KillCount = 5;
    private const int MinimumKills = 3;
    private const long InitialBalance = 1000;
    /// <summary>The clients' budget: about 90 s alone; up to 240 s seen while the rest of the suite loads both cores.</summary>
    private static readonly TimeSpan RunTimeout = TimeSpan.FromSeconds(360);
    private static readonly TimeSpan ClientPatience = TimeSpan.FromSeconds(120);

    /// <summary>The host's <c>TRANSACTIONS_IN_DOUBT_SECONDS</c>: the default.</summary>
    private const int InDoubtSeconds = 60;

    [Fact]
    public async Task TransfersWhileTheHostIsKilledRepeatedly_AllEndWithBalancesExactlyTheCommittedTransfersAndNothingHeld()
    {
        var seed = Environment.TickCount;
        output.WriteLine($"seed {seed}");
        var random = new Random(seed);
        var accounts = Enumerable.Range(0, 5).Select(i => $"acct{i}").ToArray();
        var initial = accounts.ToDictionary(a => a, _ => InitialBalance, StringComparer.Ordinal);
        var prefix = Serverless.Testing.TestNames.UniquePrefix();
        var transfers = Enumerable.Range(0, TransferCount).Select(i =>
        {
            var from = accounts[random.Next(accounts.Length)];
            var to = accounts.Where(a => a != from).ElementAt(random.Next(accounts.Length - 1));
            // One in five has a vote deadline short enough to pass while the host is down: deadline aborts race late votes.
            return new Transfer($"chaos-{prefix}-{i}", from, to, random.Next(1, 400)) { TimeoutSeconds = i % 5 == 0 ? 2 : 30 };
        }).ToList();

        await using var storage = await fixture.StartStorageAsync();
        var probe = new StorageProbe(storage.ConnectionString);
        await using var host = await HostProcess.StartAsync("A", fixture, storage);
        foreach (var (account, balance) in initial)
        {
            await host.PutAccountAsync(account, balance);
        }

        var stopwatch = Stopwatch.StartNew();
        var work = new ConcurrentQueue<Transfer>(transfers);
        var retries = 0;
        using var http = new HttpClient { BaseAddress = host.BaseAddress, Timeout = TimeSpan.FromSeconds(20) };
        var clients = Task.WhenAll(Enumerable.Range(0, ClientCount).Select(_ => Task.Run(async () =>
        {
            while (work.TryDequeue(out var transfer))
            {
                Interlocked.Add(ref retries, await TransferClient.RunAsync(transfer, ClientPatience, http));
            }
        })));

        var sampler = SampleStatusesAsync(http, probe, transfers, new Random(seed + 1), clients);
        var kills = await KillRepeatedlyAsync(host, random, clients);
        await clients.WaitAsync(RunTimeout);
        var (samples, undecided) = await sampler;
        output.WriteLine($"clients done after {stopwatch.Elapsed.TotalSeconds:0.0} s; {retries} requests failed for want of a host and were repeated");
        foreach (var kill in kills)
        {
            output.WriteLine($"kill at {kill.At:HH:mm:ss.fff}: {kill.What}");
        }

        var outcome = await Ledger.AssertEndedCorrectlyAsync(host.Client, probe, initial, transfers, TimeSpan.FromSeconds(90));

        // I7's bound, for every transaction; and how long after a kill the transactions in flight at it ended.
        var ends = await Ledger.WaitForAllToEndAsync(host.Client, transfers, TimeSpan.FromSeconds(30));
        var slowest = TimeSpan.Zero;
        foreach (var t in transfers)
        {
            var created = ends[t.Id].GetProperty("createdAt").GetDateTimeOffset();
            var completed = ends[t.Id].GetProperty("completedAt").GetDateTimeOffset();
            var bound = TimeSpan.FromSeconds(t.TimeoutSeconds + InDoubtSeconds + 60);
            Assert.True(completed - created <= bound, $"{t.Id} (deadline {t.TimeoutSeconds} s) took {(completed - created).TotalSeconds:0.0} s to end, over its bound of {bound.TotalSeconds:0} s");
            foreach (var kill in kills.Where(k => created <= k.At && k.At < completed))
            {
                slowest = completed - kill.At > slowest ? completed - kill.At : slowest;
            }
        }

        output.WriteLine($"slowest end of a transaction in flight at a kill: {slowest.TotalSeconds:0.0} s after the kill");
        output.WriteLine($"{samples} status reads of transactions with a recorded decision, {undecided.Count} of them undecided");
        Assert.True(undecided.IsEmpty, $"status reads that showed no decision although one was recorded before them:\n{string.Join('\n', undecided.Take(10))}");
        output.WriteLine($"{TransferCount} transfers, {kills.Count} kills, {host.Starts} host starts: {outcome}; total {stopwatch.Elapsed.TotalSeconds:0.0} s");

        // Anything the host found worth a warning is shown; a protocol violation (logged as critical) is a failure.
        var complaints = host.OutputLines.Where(l => l.Contains(" warn: ", StringComparison.Ordinal) || l.Contains(" fail: ", StringComparison.Ordinal) || l.Contains(" crit: ", StringComparison.Ordinal)).ToList();
        output.WriteLine($"{complaints.Count} warning or error lines in the host's log{(complaints.Count == 0 ? string.Empty : ", the first ones:")}");
        foreach (var line in complaints.Take(10))
        {
            output.WriteLine($"  {line}");
        }

        Assert.DoesNotContain(complaints, l => l.Contains(" crit: ", StringComparison.Ordinal));
        // On a fast machine the clients can finish before the last kills; several kills mid-run are what matters.
        Assert.True(kills.Count >= MinimumKills, $"only {kills.Count} kills happened before the clients were done");
        Assert.True(outcome.Committed > 0, outcome.ToString());
    }

    /// <summary>
    /// <paramref name="killCount"/> times: let the host work for a random 0.4–1.5 s (up to 4 s when armed), SIGKILL it unless it
    /// killed itself at its armed crash point first, keep it down for a random 0.2–1.5 s while clients keep retrying, and start it again, armed
    /// with a random crash point every other time.
    /// </summary>
    internal static async Task<List<(DateTimeOffset At, string What)>> KillRepeatedlyAsync(HostProcess host, Random random, Task clients, int killCount = KillCount)
    {
        var kills = new List<(DateTimeOffset At, string What)>();
        var armed = "unarmed";
        for (var k = 1; k <= killCount; k++)
        {
            var uptime = TimeSpan.FromMilliseconds(armed == "unarmed" ? random.Next(400, 1500) : 4000);
            var exited = host.Process.WaitForExitAsync(System.Threading.Timeout.InfiniteTimeSpan);
            await Task.WhenAny(Task.Delay(uptime), exited, clients);
            if (clients.IsCompleted)
            {
                break;
            }

            if (host.IsRunning)
            {
                await host.KillAsync();
                kills.Add((DateTimeOffset.UtcNow, $"#{k} SIGKILL after {uptime.TotalSeconds:0.0} s up ({armed})"));
            }
            else
            {
                var line = host.OutputLines.LastOrDefault(l => l.StartsWith(CrashPoints.CrashLinePrefix, StringComparison.Ordinal));
                Assert.True(line is not null, $"the host ended by itself, not at a crash point:\n{host.RecentOutput}");
                kills.Add((DateTimeOffset.UtcNow, $"#{k} {line}"));
            }

            await Task.Delay(random.Next(200, 1500));
            CrashPoint? point = k % 2 == 1 ? Enum.GetValues<CrashPoint>()[random.Next(Enum.GetValues<CrashPoint>().Length)] : null;
            var after = random.Next(1, 5);
            armed = point is null ? "unarmed" : $"armed {point} at hit {after}";

            // A host armed with a point that work waiting for it reaches at once dies before it answers: start it again unarmed.
            if (!await host.StartAgainAsync(point, after))
            {
                kills.Add((DateTimeOffset.UtcNow, $"#{k} died at {point} while starting"));
                armed = "unarmed";
                Assert.True(await host.StartAgainAsync(), "the host came back");
            }
        }

        if (armed != "unarmed")
        {
            // The kills are over: the rest runs on a host that will not kill itself.
            if (host.IsRunning)
            {
                await host.KillAsync();
                kills.Add((DateTimeOffset.UtcNow, $"SIGKILL to disarm ({armed})"));
            }

            Assert.True(await host.StartAgainAsync(), "the host came back");
        }

        return kills;
    }

    /// <summary>
    /// Until the clients are done: reads the decision record of a random transfer and, when one is recorded, its status
    /// right after; a status that shows no decision then is a violation (the record was durable before the read began).
    /// </summary>
    private static async Task<(int Samples, ConcurrentBag<string> Undecided)> SampleStatusesAsync(
        HttpClient http, StorageProbe probe, IReadOnlyList<Transfer> transfers, Random random, Task clients)
    {
        var (samples, undecided) = (0, new ConcurrentBag<string>());
        while (!clients.IsCompleted)
        {
            var transfer = transfers[random.Next(transfers.Count)];
            try
            {
                if (await probe.DecisionAsync(transfer.Id) is { } recorded)
                {
                    using var response = await http.GetAsync($"/api/transactions/{transfer.Id}");
                    if (response.IsSuccessStatusCode)
                    {
                        samples++;
                        var doc = await response.Content.ReadFromJsonAsync<System.Text.Json.JsonElement>();
                        if (doc.GetProperty("decision").GetString() != recorded)
                        {
                            undecided.Add($"{transfer.Id}: recorded {recorded}, read {doc}");
                        }
                    }
                }
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
            {
                // The host is down: the clients retry, and so does the sampler.
            }

            await Task.Delay(50);
        }

        return (samples, undecided);
    }
}
