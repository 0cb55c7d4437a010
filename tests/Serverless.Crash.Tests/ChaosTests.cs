using System.Collections.Concurrent;
using System.Diagnostics;
using Serverless.Functions.Faults;

namespace Serverless.Crash.Tests;

/// <summary>
/// A bounded chaos run: a couple of hundred concurrent transfers among a handful of accounts while the host is killed and
/// restarted several times, with clients retrying the same transaction id while it is down. Every other restart arms a
/// random crash point (<see cref="CrashPoints"/>) at a random hit, so kills land both at random moments (SIGKILL from
/// outside) and exactly at protocol steps (the host killing itself there).
/// </summary>
public sealed class ChaosTests(HostFixture fixture, ITestOutputHelper output) : IClassFixture<HostFixture>
{
    private const int TransferCount = 200;
    private const int ClientCount = 16;
    private const int KillCount = 5;
    private const int MinimumKills = 3;
    private const long InitialBalance = 1000;
    private static readonly TimeSpan RunTimeout = TimeSpan.FromSeconds(240);
    private static readonly TimeSpan ClientPatience = TimeSpan.FromSeconds(120);

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
        // Durable's leases at 10 s rather than 30 s: after each kill the orchestrations the dead host held wait that long.
        var lease = TimeSpan.FromSeconds(10).ToString("c", System.Globalization.CultureInfo.InvariantCulture);
        await using var host = await HostProcess.StartAsync("A", fixture, storage, extraEnvironment: new Dictionary<string, string?>
        {
            [HostProcess.DurableLeaseSetting("controlQueueVisibilityTimeout")] = lease,
            [HostProcess.DurableLeaseSetting("workItemQueueVisibilityTimeout")] = lease,
        });
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

        var kills = await KillRepeatedlyAsync(host, random, clients);
        await clients.WaitAsync(RunTimeout);
        output.WriteLine($"clients done after {stopwatch.Elapsed.TotalSeconds:0.0} s; {retries} requests failed for want of a host and were repeated");
        foreach (var kill in kills)
        {
            output.WriteLine($"kill: {kill}");
        }

        var outcome = await Ledger.AssertEndedCorrectlyAsync(host.Client, new StorageProbe(storage.ConnectionString), initial, transfers, TimeSpan.FromSeconds(90));
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
    /// <see cref="KillCount"/> times: let the host work for a random 0.4–1.5 s (up to 4 s when armed), SIGKILL it unless it
    /// killed itself at its armed crash point first, keep it down for a random 0.2–1.5 s while clients keep retrying, and start it again, armed
    /// with a random crash point every other time.
    /// </summary>
    private static async Task<List<string>> KillRepeatedlyAsync(HostProcess host, Random random, Task clients)
    {
        var kills = new List<string>();
        var armed = "unarmed";
        for (var k = 1; k <= KillCount; k++)
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
                kills.Add($"#{k} SIGKILL after {uptime.TotalSeconds:0.0} s up ({armed})");
            }
            else
            {
                var line = host.OutputLines.LastOrDefault(l => l.StartsWith(CrashPoints.CrashLinePrefix, StringComparison.Ordinal));
                Assert.True(line is not null, $"the host ended by itself, not at a crash point:\n{host.RecentOutput}");
                kills.Add($"#{k} {line}");
            }

            await Task.Delay(random.Next(200, 1500));
            CrashPoint? point = k % 2 == 1 ? Enum.GetValues<CrashPoint>()[random.Next(Enum.GetValues<CrashPoint>().Length)] : null;
            var after = random.Next(1, 5);
            armed = point is null ? "unarmed" : $"armed {point} at hit {after}";

            // A host armed with a point that work waiting for it reaches at once dies before it answers: start it again unarmed.
            if (!await host.StartAgainAsync(point, after))
            {
                kills.Add($"#{k} died at {point} while starting");
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
                kills.Add($"SIGKILL to disarm ({armed})");
            }

            Assert.True(await host.StartAgainAsync(), "the host came back");
        }

        return kills;
    }
}
