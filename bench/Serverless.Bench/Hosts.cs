using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using Azure;
using Azure.Data.Tables;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Serverless.Bench.Textbook;
using Serverless.Functions.Hosting;
using Serverless.Functions.Settings;
using Serverless.Functions.Storage;
using Serverless.LocalHost;
using Serverless.Testing;

namespace Serverless.Bench;

/// <summary>The host (or hosts) under test: where to send requests, and the storage requests it has made so far.</summary>
public interface IBenchHost : IAsyncDisposable
{
    /// <summary>One client per host process; load is spread over them round-robin.</summary>
    IReadOnlyList<HttpClient> Clients { get; }

    /// <summary>The Durable task hub of this host run (its <c>{hub}-control-NN</c>, <c>{hub}-workitems</c> and <c>{hub}Instances</c>).</summary>
    string TaskHub { get; }

    /// <summary>Storage requests made so far, by kind, summed over every host process.</summary>
    Task<OpCounts> ReadOpsAsync(CancellationToken cancellationToken = default);
}

/// <summary>Settings shared by every host the benchmark starts.</summary>
public static class HostSettings
{
    /// <summary>One random signing key per benchmark run, shared by every host process of the run: messages are always signed.</summary>
    private static readonly string SigningKey = Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(48));

    /// <param name="connectionString">The benchmark's Azurite.</param>
    /// <param name="taskHub">The task hub of this host run (3-45 letters and digits); host processes of one run share it.</param>
    /// <param name="port">The host's HTTP port.</param>
    /// <param name="payments">The payment service the <c>payments</c> saga participant calls (its URL and key); null: none.</param>
    public static Dictionary<string, string?> For(string connectionString, string taskHub, int port, PaymentsServer? payments = null) => new()
    {
        ["PAYMENTS_URL"] = payments?.BaseUrl.ToString(),
        [PaymentsServer.ApiKeySetting] = payments?.ApiKey,
        ["AzureWebJobsStorage"] = connectionString,
        ["Host:LocalHttpPort"] = port.ToString(CultureInfo.InvariantCulture),
        [TransactionsSettings.TaskHubKey] = taskHub,
        ["TRANSACTIONS_PARTICIPANTS"] = "bank,inventory",
        ["TRANSACTIONS_API_KEY"] = "",
        ["TRANSACTIONS_SIGNING_KEY"] = SigningKey,
        ["TRANSACTIONS_IN_DOUBT_SCHEDULE"] = "*/30 * * * * *",
        ["AzureWebJobs.OrdersParticipant.Disabled"] = "true",
        ["AzureWebJobs.LedgerParticipant.Disabled"] = "true",

        // One log line per protocol step would make the console, not the coordinator, the thing measured. Warnings still
        // reach the in-process LogCounter (the table names them): among them Durable's "Discarding ... Instance is
        // Completed" for each cancelled timer that fires after its orchestration ended, one or two per transaction.
        ["Logging:LogLevel:Default"] = "Warning",
        ["Logging:Console:LogLevel:Default"] = "Error",
    };

    public static HttpClient Client(int port) => new(new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromMinutes(10) })
    {
        BaseAddress = new Uri($"http://127.0.0.1:{port}"),
        Timeout = TimeSpan.FromSeconds(120),
    };

    public static async Task WaitHealthyAsync(HttpClient client, TimeSpan timeout, Func<string>? diagnostics = null, CancellationToken cancellationToken = default)
    {
        try
        {
            await Eventually.WaitAsync(
                async () =>
                {
                    try
                    {
                        using var response = await client.GetAsync("/api/health", cancellationToken);
                        return response.IsSuccessStatusCode;
                    }
                    catch (HttpRequestException)
                    {
                        return false;
                    }
                },
                timeout,
                $"the host at {client.BaseAddress} to be healthy",
                cancellationToken);
        }
        catch (TimeoutException ex) when (diagnostics is not null)
        {
            throw new TimeoutException($"{ex.Message}\n{diagnostics()}", ex);
        }
    }
}

/// <summary>The local Functions host (<see cref="LocalFunctionsHost.Build"/>) in this process; its <see cref="StorageMetrics"/> is read directly.</summary>
public sealed class InProcessHost : IBenchHost
{
    private readonly WebApplication _app;
    private readonly HttpClient _client;

    private InProcessHost(WebApplication app, HttpClient client, string taskHub, LogCounter log)
    {
        _app = app;
        _client = client;
        TaskHub = taskHub;
        Log = log;
    }

    /// <summary>The host's warnings and errors, counted.</summary>
    public LogCounter Log { get; }

    public IReadOnlyList<HttpClient> Clients => [_client];

    public string TaskHub { get; }

    /// <param name="connectionString">The benchmark's Azurite.</param>
    /// <param name="taskHub">The task hub of this host run.</param>
    /// <param name="textbook">
    /// Whether to serve the textbook orchestration (<see cref="TextbookTwoPhaseCommitFunctions"/>, this assembly's functions)
    /// beside the app's, through the local host's extra function assemblies.
    /// </param>
    /// <param name="payments">The payment service the <c>payments</c> saga participant calls; null: none.</param>
    /// <param name="cancellationToken">Stops waiting for the host to be healthy.</param>
    public static async Task<InProcessHost> StartAsync(
        string connectionString, string taskHub, bool textbook = false, PaymentsServer? payments = null, CancellationToken cancellationToken = default)
    {
        var port = FreePort.Get();
        var settings = HostSettings.For(connectionString, taskHub, port, payments);
        var app = textbook
            ? LocalFunctionsHost.Build([], settings, [typeof(TextbookTwoPhaseCommitFunctions).Assembly], TextbookInbox.Register)
            : LocalFunctionsHost.Build([], settings);
        var log = new LogCounter();
        app.Services.GetRequiredService<ILoggerFactory>().AddProvider(log);
        await app.StartAsync(cancellationToken);
        var client = HostSettings.Client(port);
        await HostSettings.WaitHealthyAsync(client, TimeSpan.FromSeconds(60), cancellationToken: cancellationToken);
        return new InProcessHost(app, client, app.Services.GetRequiredService<TransactionsSettings>().TaskHub, log);
    }

    public Task<OpCounts> ReadOpsAsync(CancellationToken cancellationToken = default) =>
        Task.FromResult(OpCounts.From(_app.Services.GetRequiredService<StorageMetrics>().Snapshot()));

    public async ValueTask DisposeAsync()
    {
        _client.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}

/// <summary>
/// Local Functions host processes (<c>Serverless.LocalHost.dll</c>, as <c>./run.sh</c> runs it) sharing one storage account
/// and one task hub, each with its own worker id, the way scaled-out instances share a Functions app's storage; metrics
/// come from <c>GET /api/metrics/storage</c>.
/// </summary>
public sealed class HostProcesses : IBenchHost
{
    private readonly List<(ChildProcess Process, HttpClient Client)> _hosts;

    private HostProcesses(List<(ChildProcess, HttpClient)> hosts, string taskHub)
    {
        _hosts = hosts;
        TaskHub = taskHub;
    }

    public IReadOnlyList<HttpClient> Clients => [.. _hosts.Select(h => h.Client)];

    public string TaskHub { get; }

    /// <summary>The host processes' ids (for CPU accounting).</summary>
    public IReadOnlyList<int> ProcessIds => [.. _hosts.Select(h => h.Process.Id)];

    /// <summary>The last <paramref name="lines"/> output lines of each host process (errors only: see <see cref="HostSettings"/>).</summary>
    public string Tail(int lines) => string.Join('\n', _hosts.SelectMany(h => h.Process.OutputLines.TakeLast(lines).Select(l => $"    [{h.Process.Id}] {l}")));

    public static async Task<HostProcesses> StartAsync(string connectionString, string taskHub, int count, CancellationToken cancellationToken = default)
    {
        var root = RepositoryRoot.Find();
#if DEBUG
        const string configuration = "Debug";
#else
        const string configuration = "Release";
#endif
        // The host's own output folder holds the app's host.json (copied by the build) and no local.settings.json, so
        // nothing but host.json and the settings below shapes the run.
        var hostDirectory = Path.Combine(root, "src", "Serverless.LocalHost", "bin", configuration, "net10.0");
        var dll = Path.Combine(hostDirectory, "Serverless.LocalHost.dll");
        if (!File.Exists(dll) || !File.Exists(Path.Combine(hostDirectory, "host.json")))
        {
            throw new InvalidOperationException($"{dll} or the host.json beside it does not exist; build src/Serverless.LocalHost -c {configuration} first (bench.sh does).");
        }

        var hosts = new List<(ChildProcess, HttpClient)>();
        try
        {
            for (var i = 0; i < count; i++)
            {
                var port = FreePort.Get();
                var environment = HostSettings.For(connectionString, taskHub, port)
                    .ToDictionary(p => p.Key.Replace(":", "__", StringComparison.Ordinal), p => p.Value, StringComparer.Ordinal);
                environment["FUNCTIONS_APP_ROOT"] = hostDirectory;
                environment["LOCALHOST_WORKER_ID"] = $"{taskHub}-host{i}";
                environment["DOTNET_gcServer"] = "0";
                var process = ChildProcess.Start("dotnet", [dll], hostDirectory, environment, maxOutputLines: 200);
                hosts.Add((process, HostSettings.Client(port)));
            }

            foreach (var (process, client) in hosts)
            {
                await HostSettings.WaitHealthyAsync(client, TimeSpan.FromSeconds(60), () => process.Output, cancellationToken);
            }

            await WaitForBalancedPartitionsAsync(connectionString, taskHub, count, TimeSpan.FromSeconds(60), cancellationToken);
        }
        catch
        {
            foreach (var (process, client) in hosts)
            {
                client.Dispose();
                await process.DisposeAsync();
            }

            throw;
        }

        return new HostProcesses(hosts, taskHub);
    }

    /// <summary>
    /// Waits until the task hub's control-queue partitions (the lease table <c>{hub}Partitions</c>) are each owned, none
    /// being stolen or drained, by <paramref name="hosts"/> distinct workers (at most one per partition): a partition that
    /// changes hands mid-run stalls its orchestrations, so the comparison starts from a settled spread. Logs where it
    /// stands if that does not happen in <paramref name="limit"/>, and goes on.
    /// </summary>
    private static async Task WaitForBalancedPartitionsAsync(string connectionString, string taskHub, int hosts, TimeSpan limit, CancellationToken cancellationToken)
    {
        var table = new TableServiceClient(connectionString).GetTableClient($"{taskHub}Partitions");
        var stopwatch = Stopwatch.StartNew();
        var leases = new List<TableEntity>();
        while (stopwatch.Elapsed < limit)
        {
            try
            {
                leases.Clear();
                await foreach (var lease in table.QueryAsync<TableEntity>(cancellationToken: cancellationToken))
                {
                    leases.Add(lease);
                }
            }
            catch (RequestFailedException ex) when (ex.Status == 404)
            {
                // Not created yet.
            }

            var settled = leases.Count > 0 && leases.All(l =>
                !string.IsNullOrEmpty(l.GetString("CurrentOwner")) && string.IsNullOrEmpty(l.GetString("NextOwner")) && l.GetBoolean("IsDraining") != true);
            if (settled && leases.Select(l => l.GetString("CurrentOwner")).Distinct(StringComparer.Ordinal).Count() == Math.Min(hosts, leases.Count))
            {
                return;
            }

            await Task.Delay(500, cancellationToken);
        }

        var state = string.Join(", ", leases.Select(l => $"{l.RowKey}: {l.GetString("CurrentOwner")}{(string.IsNullOrEmpty(l.GetString("NextOwner")) ? "" : $" -> {l.GetString("NextOwner")}")}"));
        Console.WriteLine($"  the partitions of {taskHub} were not settled over {hosts} host(s) after {limit.TotalSeconds:0} s ({state}); going on");
    }

    /// <summary>Who owns each control-queue partition of the task hub, and since when (a lease taken over mid-run shows here).</summary>
    public async Task<string> DescribePartitionsAsync(string connectionString, CancellationToken cancellationToken = default)
    {
        var table = new TableServiceClient(connectionString).GetTableClient($"{TaskHub}Partitions");
        var leases = new List<string>();
        await foreach (var lease in table.QueryAsync<TableEntity>(cancellationToken: cancellationToken))
        {
            var since = lease.GetDateTime("OwnedSince") is { } t ? t.ToLocalTime().ToString("HH:mm:ss", CultureInfo.InvariantCulture) : "?";
            var next = lease.GetString("NextOwner") is { Length: > 0 } n ? $" -> {n}" : "";
            leases.Add($"{lease.RowKey[(lease.RowKey.LastIndexOf('-') + 1)..]}: {lease.GetString("CurrentOwner")}{next} since {since}");
        }

        return string.Join(", ", leases);
    }

    public async Task<OpCounts> ReadOpsAsync(CancellationToken cancellationToken = default)
    {
        var total = OpCounts.Zero;
        foreach (var (_, client) in _hosts)
        {
            var snapshot = await client.GetFromJsonAsync<Dictionary<string, long>>("/api/metrics/storage", cancellationToken)
                ?? throw new InvalidOperationException("GET /api/metrics/storage answered null");
            total = total.Plus(OpCounts.From(snapshot));
        }

        return total;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var (process, client) in _hosts)
        {
            client.Dispose();
            await process.StopAsync(TimeSpan.FromSeconds(10));
            await process.DisposeAsync();
        }
    }
}
