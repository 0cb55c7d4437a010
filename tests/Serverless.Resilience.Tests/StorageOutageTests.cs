using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Serverless.Testing;

namespace Serverless.Resilience.Tests;

/// <summary>
/// A storage outage: Azurite (persistent, its own) stopped while transactions are in flight, then started again with
/// its data. Meanwhile health is 503 and the API answers 503 within seconds; afterwards the host recovers by itself
/// and every transaction ends correctly.
/// </summary>
public sealed class StorageOutageTests : IAsyncLifetime
{
    /// <summary>The most any request may take while storage is down: the point is that nothing hangs.</summary>
    private static readonly TimeSpan Quick = TimeSpan.FromSeconds(5);

    private readonly string _location = Path.Combine(Path.GetTempPath(), $"resilience-azurite-{Guid.NewGuid():N}");
    private AzuriteInstance? _azurite;

    private AzuriteInstance Azurite => _azurite ?? throw new InvalidOperationException("not started");

    public async Task InitializeAsync() => _azurite = await AzuriteInstance.StartAsync(new AzuriteOptions { Location = _location });

    public async Task DisposeAsync()
    {
        if (_azurite is not null)
        {
            await _azurite.DisposeAsync();
        }

        try
        {
            Directory.Delete(_location, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    [Fact]
    public async Task DuringAStorageOutage_TheApiAnswers503Quickly_AndAfterwardsEveryTransactionEndsCorrectly()
    {
        await using var app = await TestApp.StartAsync(Azurite.ConnectionString, new Dictionary<string, string?>
        {
            // "ghost" is known but runs nowhere: its transaction can only end by its vote deadline, after the outage.
            ["TRANSACTIONS_PARTICIPANTS"] = "bank,inventory,ghost",
            ["TRANSACTIONS_IN_DOUBT_SECONDS"] = "2",
            ["TRANSACTIONS_MESSAGE_LEASE_SECONDS"] = "5",
        });
        await app.PutAccountAsync("alice", 1000);
        await app.PutAccountAsync("bob", 0);
        await app.PutItemAsync("widget", 100);
        var transfers = Enumerable.Range(1, 16).Select(i => (Id: TestApp.Id($"transfer{i}"), Amount: (long)i, Quantity: (long)(1 + (i % 3)))).ToList();
        var ghost = TestApp.Id("ghost");

        await Task.WhenAll(transfers.Select(async t =>
            Assert.Equal(HttpStatusCode.Accepted, (await app.Client.PostAsJsonAsync("/api/transactions", Order(t.Id, t.Amount, t.Quantity))).StatusCode)));
        var ghostStart = await app.Client.PostAsJsonAsync("/api/transactions", new
        {
            transactionId = ghost,
            timeoutSeconds = 3,
            participants = new object[]
            {
                new { participant = "bank", operation = new { type = "debit", account = "alice", amount = 500 } },
                new { participant = "ghost", operation = new { anything = true } },
            },
        });
        Assert.Equal(HttpStatusCode.Accepted, ghostStart.StatusCode);

        await Azurite.StopAsync();

        var health = await TimedAsync(() => app.Client.GetAsync("/api/health"));
        var start = await TimedAsync(() => app.Client.PostAsJsonAsync("/api/transactions", TestApp.Transfer("during-outage", "alice", "bob", 7)));
        var status = await TimedAsync(() => app.Client.GetAsync($"/api/transactions/{transfers[0].Id}"));
        var seed = await TimedAsync(() => app.Client.PutAsJsonAsync("/api/bank/accounts/carol", new { balance = 1 }));
        Assert.Equal(HttpStatusCode.ServiceUnavailable, health.StatusCode);
        foreach (var response in new[] { start, status, seed })
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        }

        await Azurite.StartAgainAsync();

        await Eventually.WaitAsync(async () => (await app.Client.GetAsync("/api/health")).StatusCode == HttpStatusCode.OK, TimeSpan.FromSeconds(30), "health back to 200");
        var retried = await app.Client.PostAsJsonAsync("/api/transactions", TestApp.Transfer("during-outage", "alice", "bob", 7));
        Assert.Equal(HttpStatusCode.Accepted, retried.StatusCode);

        var wait = TimeSpan.FromSeconds(60);
        var ends = new List<JsonElement>();
        foreach (var id in transfers.Select(t => t.Id).Append("during-outage"))
        {
            ends.Add(await app.WaitForStatusAsync(id, wait, "Committed", "Aborted"));
        }

        // Its deadline timer survived the outage and decided Abort; the hold is released. It stays Aborting, not
        // Aborted: the rollback owed to "ghost" (so that a late prepare there reserves nothing) is never acknowledged.
        var ghostEnd = await app.WaitForStatusAsync(ghost, wait, "Aborting", "Aborted");
        Assert.Equal("Abort", ghostEnd.GetProperty("decision").GetString());
        await Eventually.WaitAsync(
            async () => (await app.WaitForStatusAsync(ghost, wait, "Aborting")).GetProperty("participants")[0].GetProperty("outcome").GetString() == "RolledBack",
            wait,
            "the ghost transaction's bank branch rolled back");

        // Every transaction ended one way or the other, and the balances and holds say exactly which.
        var committed = ends.Where(e => e.GetProperty("status").GetString() == "Committed").Select(e => e.GetProperty("id").GetString()).ToHashSet();
        var moved = transfers.Where(t => committed.Contains(t.Id)).Sum(t => t.Amount) + (committed.Contains("during-outage") ? 7 : 0);
        var reserved = transfers.Where(t => committed.Contains(t.Id)).Sum(t => t.Quantity);
        Assert.Equal((1000 - moved, 0), await app.GetAccountAsync("alice"));
        Assert.Equal((moved, 0), await app.GetAccountAsync("bob"));
        Assert.Equal((100 - reserved, 0), await app.GetItemAsync("widget"));
        Assert.Equal(transfers.Count + 1, committed.Count);
    }

    [Fact]
    public async Task StorageThatAcceptsConnectionsButNeverAnswers_GetsA503WithinTheRequestBudget()
    {
        using var blackHole = new BlackHole();
        var storage = $"DefaultEndpointsProtocol=http;AccountName={AzuriteInstance.AccountName};AccountKey={AzuriteInstance.AccountKey};" +
            $"QueueEndpoint=http://127.0.0.1:{blackHole.Port}/{AzuriteInstance.AccountName};TableEndpoint=http://127.0.0.1:{blackHole.Port}/{AzuriteInstance.AccountName};";
        var port = FreePort.Get();
        var app = Functions.Hosting.FunctionApp.Create([], new Dictionary<string, string?>
        {
            ["AzureWebJobsStorage"] = storage,
            ["TRANSACTIONS_STORAGE_PREFIX"] = TestNames.UniquePrefix(),
            ["TRANSACTIONS_REQUEST_TIMEOUT_SECONDS"] = "2",
            ["Host:LocalHttpPort"] = port.ToString(System.Globalization.CultureInfo.InvariantCulture),
        });
        await app.StartAsync();
        try
        {
            using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(30) };

            var health = await TimedAsync(() => client.GetAsync("/api/health"));
            var start = await TimedAsync(() => client.PostAsJsonAsync("/api/transactions", TestApp.Transfer("hung-1", "alice", "bob", 1)));
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
    private static object Order(string id, long amount, long quantity) => new
    {
        transactionId = id,
        timeoutSeconds = 120,
        participants = new object[]
        {
            new { participant = "bank", operation = new { type = "debit", account = "alice", amount } },
            new { participant = "bank", operation = new { type = "credit", account = "bob", amount } },
            new { participant = "inventory", operation = new { type = "reserve", sku = "widget", quantity } },
        },
    };

    private static async Task<HttpResponseMessage> TimedAsync(Func<Task<HttpResponseMessage>> request)
    {
        var stopwatch = Stopwatch.StartNew();
        var response = await request();
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
