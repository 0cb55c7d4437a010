using System.Globalization;
using System.Net.Http.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Serverless.Functions.Hosting;
using Serverless.Runtime.Storage;
using Serverless.Testing;

namespace Serverless.Bench;

/// <summary>The host (or hosts) under test: where to send requests, and the storage requests it has made so far.</summary>
public interface IBenchHost : IAsyncDisposable
{
    /// <summary>One client per host process; load is spread over them round-robin.</summary>
    IReadOnlyList<HttpClient> Clients { get; }

    /// <summary>The queue and table names of this host's deployment (its storage prefix).</summary>
    StorageNames Names { get; }

    /// <summary>Storage requests made so far, by kind, summed over every host process.</summary>
    Task<OpCounts> ReadOpsAsync(CancellationToken cancellationToken = default);
}

/// <summary>Settings shared by every host the benchmark starts.</summary>
public static class HostSettings
{
    public static Dictionary<string, string?> For(string connectionString, string prefix, int port) => new()
    {
        ["AzureWebJobsStorage"] = connectionString,
        ["TRANSACTIONS_STORAGE_PREFIX"] = prefix,
        ["TRANSACTIONS_PARTICIPANTS"] = "bank,inventory",
        ["TRANSACTIONS_API_KEY"] = "",
        ["TRANSACTIONS_SIGNING_KEY"] = "",
        ["Host:LocalHttpPort"] = port.ToString(CultureInfo.InvariantCulture),

        // One log line per protocol step would make the console, not the coordinator, the thing measured. The
        // runtime's debug events still reach the in-process LogCounter (it counts checkpoint conflicts, writes nothing).
        ["Logging:LogLevel:Default"] = "Warning",
        ["Logging:LogLevel:Serverless.Runtime"] = "Debug",
        ["Logging:Console:LogLevel:Default"] = "Warning",
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

/// <summary>The real host (<see cref="FunctionApp.Create"/>) in this process; its <see cref="StorageMetrics"/> is read directly.</summary>
public sealed class InProcessHost : IBenchHost
{
    private readonly WebApplication _app;
    private readonly HttpClient _client;

    private InProcessHost(WebApplication app, HttpClient client, StorageNames names, LogCounter log)
    {
        _app = app;
        _client = client;
        Names = names;
        Log = log;
    }

    /// <summary>The host's log events, counted.</summary>
    public LogCounter Log { get; }

    public IReadOnlyList<HttpClient> Clients => [_client];

    public StorageNames Names { get; }

    public static async Task<InProcessHost> StartAsync(string connectionString, string prefix, CancellationToken cancellationToken = default)
    {
        var port = FreePort.Get();
        var app = FunctionApp.Create([], HostSettings.For(connectionString, prefix, port));
        var log = new LogCounter();
        app.Services.GetRequiredService<ILoggerFactory>().AddProvider(log);
        await app.StartAsync(cancellationToken);
        var client = HostSettings.Client(port);
        await HostSettings.WaitHealthyAsync(client, TimeSpan.FromSeconds(60), cancellationToken: cancellationToken);
        return new InProcessHost(app, client, app.Services.GetRequiredService<StorageNames>(), log);
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
/// Host processes (<c>Serverless.Functions.dll</c>, as <c>./run.sh</c> runs it) sharing one storage account and one
/// prefix, the way scaled-out instances share a Functions app's storage; metrics come from <c>GET /api/metrics/storage</c>.
/// </summary>
public sealed class HostProcesses : IBenchHost
{
    private readonly List<(ChildProcess Process, HttpClient Client)> _hosts;

    private HostProcesses(List<(ChildProcess, HttpClient)> hosts, StorageNames names)
    {
        _hosts = hosts;
        Names = names;
    }

    public IReadOnlyList<HttpClient> Clients => [.. _hosts.Select(h => h.Client)];

    public StorageNames Names { get; }

    /// <summary>The host processes' ids (for CPU accounting).</summary>
    public IReadOnlyList<int> ProcessIds => [.. _hosts.Select(h => h.Process.Id)];

    public static async Task<HostProcesses> StartAsync(string connectionString, string prefix, int count, CancellationToken cancellationToken = default)
    {
        var root = RepositoryRoot.Find();
#if DEBUG
        const string configuration = "Debug";
#else
        const string configuration = "Release";
#endif
        var appDirectory = Path.Combine(root, "src", "Serverless.Functions", "bin", configuration, "net10.0");
        var dll = Path.Combine(appDirectory, "Serverless.Functions.dll");
        if (!File.Exists(dll))
        {
            throw new InvalidOperationException($"{dll} does not exist; build src/Serverless.Functions -c {configuration} first (bench.sh does).");
        }

        var hosts = new List<(ChildProcess, HttpClient)>();
        try
        {
            for (var i = 0; i < count; i++)
            {
                var port = FreePort.Get();
                var environment = HostSettings.For(connectionString, prefix, port)
                    .ToDictionary(p => p.Key.Replace(":", "__", StringComparison.Ordinal), p => p.Value, StringComparer.Ordinal);
                environment["FUNCTIONS_APP_ROOT"] = appDirectory;
                environment["DOTNET_gcServer"] = "0";
                var process = ChildProcess.Start("dotnet", [dll], appDirectory, environment, maxOutputLines: 200);
                hosts.Add((process, HostSettings.Client(port)));
            }

            foreach (var (process, client) in hosts)
            {
                await HostSettings.WaitHealthyAsync(client, TimeSpan.FromSeconds(60), () => process.Output, cancellationToken);
            }
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

        return new HostProcesses(hosts, new StorageNames(prefix));
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
