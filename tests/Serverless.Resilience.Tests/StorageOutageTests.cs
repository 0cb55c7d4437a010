using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Serverless.LocalHost;
using Serverless.Testing;
using Xunit.Abstractions;

namespace Serverless.Resilience.Tests;

/// <summary>
/// A storage outage: the host's own Azurite (on disk) stopped while transactions are in flight, then started again with
/// its data. Meanwhile health is 503 and the API answers 503 within seconds; afterwards the host recovers by itself
/// and every transaction ends correctly.
/// </summary>
public sealed class StorageOutageTests(ITestOutputHelper output)
{
    /// <summary>
    /// The most any request may take while storage is down: the point is that nothing hangs (the request budget is 30 s,
    /// the storage SDK's network timeout 20 s). A refused connection is retried by the storage clients, the app's and
    /// Durable Task's, for about 2 s before they give up (<see cref="Serverless.Functions.Storage.StorageClients.BoundRetries"/>).
    /// </summary>
    private static readonly TimeSpan Quick = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task DuringAStorageOutage_TheApiAnswers503Quickly_AndAfterwardsEveryTransactionEndsCorrectly()
    {
        var logs = new LogCapture();
        await using var host = await TestHost.StartAsync(logs: logs, settings: new Dictionary<string, string?>
        {
            // "ghost" is known but runs nowhere: its transaction can only end by its vote deadline, after the outage.
            ["TRANSACTIONS_IN_DOUBT_SECONDS"] = "2",
            ["TRANSACTIONS_IN_DOUBT_SCHEDULE"] = "*/1 * * * * *",
            ["LOCALHOST_QUEUE_MESSAGE_LEASE_SECONDS"] = "5",
            ["TRANSACTIONS_LOCAL_DELIVERY_LEASE_SECONDS"] = "5",

            // Durable messages that were being processed when storage went away come back when their lease ends: after 5
            // minutes by default (as on Azure), after two here. Shorter expires the leases of messages a busy worker still
            // holds, and sessions then fail over and over on stale pop receipts: at 15 s always, at 1 minute in 2 of 5 full
            // runs, while the dispatcher fetched one work item per 10 s after the outage (below) and messages waited in its
            // buffer past their lease.
            ["AzureFunctionsJobHost:extensions:durableTask:storageProvider:controlQueueVisibilityTimeout"] = "00:02:00",
            ["AzureFunctionsJobHost:extensions:durableTask:storageProvider:workItemQueueVisibilityTimeout"] = "00:02:00",
        });
        var (alice, bob, widget) = (TestHost.Id("alice"), TestHost.Id("bob"), TestHost.Id("widget"));
        await host.PutAccountOrFailAsync(alice, 1000);
        await host.PutAccountOrFailAsync(bob, 0);
        await host.PutItemAsync(widget, 100);
        var transfers = Enumerable.Range(1, 16).Select(i => (Id: TestHost.Id($"transfer{i}"), Amount: (long)i, Quantity: (long)(1 + (i % 3)))).ToList();
        var ghost = TestHost.Id("ghost");
        var duringOutage = TestHost.Id("during-outage");

        await Task.WhenAll(transfers.Select(async t =>
            Assert.Equal(HttpStatusCode.Accepted, (await host.Client.PostAsJsonAsync("/api/transactions", Order(t.Id, alice, bob, widget, t.Amount, t.Quantity))).StatusCode)));
        var ghostStart = await host.Client.PostAsJsonAsync("/api/transactions", new
        {
            transactionId = ghost,
            timeoutSeconds = 3,
            participants = new object[]
            {
                new { participant = "bank", operation = new { type = "debit", account = alice, amount = 500 } },
                new { participant = "ghost", operation = new { anything = true } },
            },
        });
        Assert.Equal(HttpStatusCode.Accepted, ghostStart.StatusCode);

        var clock = System.Diagnostics.Stopwatch.StartNew();
        await host.Azurite.StopAsync();
        output.WriteLine($"{clock.Elapsed.TotalSeconds:0.0} s: storage stopped");

        var health = await TimedAsync(() => host.Client.GetAsync("/api/health"));
        var start = await TimedAsync(() => host.Client.PostAsJsonAsync("/api/transactions", TestHost.Transfer(duringOutage, alice, bob, 7, timeoutSeconds: 60)));
        var status = await TimedAsync(() => host.Client.GetAsync($"/api/transactions/{transfers[0].Id}"));
        var list = await TimedAsync(() => host.Client.GetAsync("/api/transactions?top=10"));
        var abort = await TimedAsync(() => host.Client.PostAsync($"/api/transactions/{transfers[1].Id}/abort", null));
        var seed = await TimedAsync(() => host.Client.PutAsJsonAsync($"/api/bank/accounts/{TestHost.Id("carol")}", new { balance = 1 }));
        var account = await TimedAsync(() => host.Client.GetAsync($"/api/bank/accounts/{alice}"));
        Assert.Equal(HttpStatusCode.ServiceUnavailable, health.StatusCode);
        foreach (var response in new[] { health, start, status, list, abort, seed, account })
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        }

        await host.Azurite.StartAgainAsync();
        output.WriteLine($"{clock.Elapsed.TotalSeconds:0.0} s: storage started again");

        await Eventually.WaitAsync(async () => (await host.Client.GetAsync("/api/health")).StatusCode == HttpStatusCode.OK, TimeSpan.FromSeconds(30), "health back to 200");

        // The start that was refused during the outage, sent again as a client does: while the engine works off what waited
        // in its queues during the outage, admission control answers 429 with Retry-After; then it is accepted.
        var refusals = 0;
        await Eventually.WaitAsync(
            async () =>
            {
                using var retried = await host.Client.PostAsJsonAsync("/api/transactions", TestHost.Transfer(duringOutage, alice, bob, 7, timeoutSeconds: 60));
                if (retried.StatusCode == HttpStatusCode.TooManyRequests)
                {
                    Assert.NotNull(retried.Headers.RetryAfter?.Delta);
                    refusals++;
                    await Task.Delay(retried.Headers.RetryAfter!.Delta!.Value);
                    return false;
                }

                Assert.Equal(HttpStatusCode.Accepted, retried.StatusCode);
                return true;
            },
            TimeSpan.FromSeconds(120),
            "the start sent again to be accepted");
        output.WriteLine($"{clock.Elapsed.TotalSeconds:0.0} s: the start sent again was accepted after {refusals} refusals (429)");

        // Prepares that could not be sent during the outage end in a deadline abort; phase 2 is retried on durable timers;
        // Durable's own messages held when storage went away come back after their lease. All of that within minutes:
        // after an episode fails, Durable Task's orchestration dispatcher waits 10 s before each fetch until five episodes
        // in a row succeed (its AzureStorage backend's fixed process-exception delay), and every failure after the restart
        // (a stale pop receipt, a message back out of order) starts that count again. With 2-minute leases, about 2.5 minutes.
        var ids = transfers.Select(t => t.Id).Append(duringOutage).Append(ghost).ToList();
        var ends = new Dictionary<string, JsonElement>(StringComparer.Ordinal);
        try
        {
            await Eventually.WaitAsync(
                async () =>
                {
                    foreach (var id in ids.Where(id => !ends.ContainsKey(id)))
                    {
                        var doc = await host.GetStatusAsync(id);
                        if (doc.GetProperty("status").GetString() is "Committed" or "Aborted"
                            || (id == ghost && doc.GetProperty("decision").GetString() == "Abort" && (await host.BankRecordsAsync(ghost)).All(r => r.Phase == "RolledBack")))
                        {
                            ends[id] = doc;
                            output.WriteLine($"{clock.Elapsed.TotalSeconds:0.0} s: {id} {doc.GetProperty("status")} ({doc.GetProperty("reason")})");
                        }
                    }

                    return ends.Count == ids.Count;
                },
                TimeSpan.FromSeconds(300),
                "every transaction to end");
        }
        catch (TimeoutException)
        {
            foreach (var id in ids.Where(id => !ends.ContainsKey(id)))
            {
                output.WriteLine($"not ended: {await host.Client.GetStringAsync($"/api/transactions/{id}")}");
                output.WriteLine($"  decision record: {await host.Decisions.GetAsync(id)}; bank records: {string.Join(", ", await host.BankRecordsAsync(id))}");
                foreach (var line in logs.Lines.Where(l => l.Message.Contains(id, StringComparison.Ordinal)).Take(20))
                {
                    output.WriteLine($"  {line.EventId} {line.Category}: {line.Message[..Math.Min(300, line.Message.Length)]}");
                }
            }

            throw;
        }

        // The ghost transaction's deadline timer survived the outage, or in-doubt resolution presumed it aborted: either
        // way Abort, and its hold released. It stays Aborting, not Aborted: the rollback owed to "ghost" (so that a late
        // prepare there reserves nothing) is never acknowledged.
        Assert.Equal("Abort", ends[ghost].GetProperty("decision").GetString());
        ends.Remove(ghost);

        // Every transaction ended one way or the other, and the balances and holds say exactly which. An abort can only
        // be a vote deadline that passed while storage was down or recovering: every transfer is affordable.
        foreach (var aborted in ends.Values.Where(e => e.GetProperty("status").GetString() == "Aborted"))
        {
            Assert.Contains("deadline", aborted.GetProperty("reason").GetString(), StringComparison.Ordinal);
        }

        // Every transaction ended one way or the other, and the balances and holds say exactly which.
        var committed = ends.Values.Where(e => e.GetProperty("status").GetString() == "Committed").Select(e => e.GetProperty("id").GetString()).ToHashSet();
        var moved = transfers.Where(t => committed.Contains(t.Id)).Sum(t => t.Amount) + (committed.Contains(duringOutage) ? 7 : 0);
        var reserved = transfers.Where(t => committed.Contains(t.Id)).Sum(t => t.Quantity);
        Assert.Equal((1000 - moved, 0), await host.GetAccountAsync(alice));
        Assert.Equal((moved, 0), await host.GetAccountAsync(bob));
        Assert.Equal((100 - reserved, 0), await host.GetItemAsync(widget));
        output.WriteLine($"{committed.Count} of {transfers.Count + 1} committed");
    }

    [Fact]
    public async Task StorageThatAcceptsConnectionsButNeverAnswers_GetsA503WithinTheRequestBudget()
    {
        using var blackHole = new BlackHole();
        var storage = $"DefaultEndpointsProtocol=http;AccountName={AzuriteInstance.AccountName};AccountKey={AzuriteInstance.AccountKey};" +
            $"BlobEndpoint=http://127.0.0.1:{blackHole.Port}/{AzuriteInstance.AccountName};" +
            $"QueueEndpoint=http://127.0.0.1:{blackHole.Port}/{AzuriteInstance.AccountName};TableEndpoint=http://127.0.0.1:{blackHole.Port}/{AzuriteInstance.AccountName};";
        var port = FreePort.Get();
        var app = LocalFunctionsHost.Build([], new Dictionary<string, string?>
        {
            ["AzureWebJobsStorage"] = storage,
            ["TRANSACTIONS_PARTICIPANTS"] = "bank,inventory",
            ["TRANSACTIONS_SIGNING_KEY"] = TestHost.SigningKey,
            ["TRANSACTIONS_REQUEST_TIMEOUT_SECONDS"] = "2",
            ["TRANSACTIONS_IN_DOUBT_SCHEDULE"] = "*/30 * * * * *",
            ["AzureWebJobs.OrdersParticipant.Disabled"] = "true",
            ["AzureWebJobs.LedgerParticipant.Disabled"] = "true",
            ["Host:LocalHttpPort"] = port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Logging:LogLevel:Default"] = "Warning",
        });
        await app.StartAsync();
        try
        {
            using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(30) };

            var health = await TimedAsync(() => client.GetAsync("/api/health"));
            var start = await TimedAsync(() => client.PostAsJsonAsync("/api/transactions", TestHost.Transfer("hung-1", "alice", "bob", 1)));
            var status = await TimedAsync(() => client.GetAsync("/api/transactions/hung-1"));

            Assert.True(blackHole.Connections > 0, "the app did reach the black hole");
            foreach (var response in new[] { health, start, status })
            {
                Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
                Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
            }
        }
        finally
        {
            using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            await app.StopAsync(stop.Token);
            await app.DisposeAsync();
        }
    }

    /// <summary>A transfer with an inventory reservation: three branches on two participants.</summary>
    private static object Order(string id, string from, string to, string sku, long amount, long quantity) => new
    {
        transactionId = id,
        timeoutSeconds = 60,
        participants = new object[]
        {
            new { participant = "bank", operation = new { type = "debit", account = from, amount } },
            new { participant = "bank", operation = new { type = "credit", account = to, amount } },
            new { participant = "inventory", operation = new { type = "reserve", sku, quantity } },
        },
    };

    private async Task<HttpResponseMessage> TimedAsync(Func<Task<HttpResponseMessage>> request)
    {
        var stopwatch = Stopwatch.StartNew();
        var response = await request();
        output.WriteLine($"  {response.RequestMessage?.Method} {response.RequestMessage?.RequestUri?.AbsolutePath}: {(int)response.StatusCode} in {stopwatch.Elapsed.TotalSeconds:0.0} s");
        Assert.True(stopwatch.Elapsed < Quick, $"the request took {stopwatch.Elapsed.TotalSeconds:0.0} s while storage was down");
        return response;
    }
}

/// <summary>A TCP server that accepts every connection and never answers: storage that hangs.</summary>
internal sealed class BlackHole : IDisposable
{
    private readonly System.Net.Sockets.TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly List<System.Net.Sockets.TcpClient> _held = [];
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _accepting;

    public BlackHole()
    {
        _listener.Start();
        _accepting = AcceptAsync();
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    public int Connections
    {
        get
        {
            lock (_held)
            {
                return _held.Count;
            }
        }
    }

    public void Dispose()
    {
        _stop.Cancel();
        _listener.Stop();
        _accepting.Wait(TimeSpan.FromSeconds(5));
        lock (_held)
        {
            _held.ForEach(c => c.Dispose());
        }

        _stop.Dispose();
    }

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            try
            {
                var client = await _listener.AcceptTcpClientAsync(_stop.Token);
                lock (_held)
                {
                    _held.Add(client);
                }
            }
            catch (Exception ex) when (ex is OperationCanceledException or System.Net.Sockets.SocketException or ObjectDisposedException)
            {
                return;
            }
        }
    }
}
