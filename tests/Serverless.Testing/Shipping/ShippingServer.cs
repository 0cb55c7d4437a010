using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Reflection;
using System.Text.Json;
using Npgsql;

namespace Serverless.Testing;

/// <summary>
/// The shipping app (<c>src/Serverless.Shipping</c>, another team's isolated-worker Functions app built on the participant kit)
/// as a real child process: the local Functions host hosting its built assembly (<c>--app</c>), on a free loopback port, with
/// its own PostgreSQL database and the coordinator's Azurite as its <c>COORDINATOR_STORAGE</c>. It can be killed abruptly
/// (SIGKILL) and started again on the same database.
/// </summary>
/// <remarks>
/// Nothing is built here: Serverless.Testing references the app's project (without its assembly) so that building any test
/// project builds it, in the same configuration. The app folder is a fresh temporary one holding the app's host.json only,
/// so that a developer's <c>local.settings.json</c> never leaks in: every setting comes from the environment given here.
/// </remarks>
public sealed class ShippingServer : IAsyncDisposable
{
    /// <summary>How long a start may take before it fails with the process's output.</summary>
    public static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);

    private readonly HttpClient _probe = new() { Timeout = TimeSpan.FromSeconds(2) };
    private readonly IReadOnlyDictionary<string, string?> _settings;
    private ChildProcess? _process;

    private ShippingServer(string appRoot, int port, string database, IReadOnlyDictionary<string, string?> settings)
    {
        AppRoot = appRoot;
        Port = port;
        Database = database;
        _settings = settings;
        Client = new HttpClient { BaseAddress = BaseUrl, Timeout = TimeSpan.FromSeconds(30) };
    }

    /// <summary>The loopback port the app serves HTTP on.</summary>
    public int Port { get; }

    /// <summary><c>http://127.0.0.1:{Port}</c>.</summary>
    public Uri BaseUrl => new($"http://127.0.0.1:{Port}");

    /// <summary>A client of the app's routes.</summary>
    public HttpClient Client { get; }

    /// <summary>The app's own database (<c>SHIPPING_POSTGRES_CONNECTION</c>).</summary>
    public string Database { get; }

    /// <summary>The app's folder (<c>FUNCTIONS_APP_ROOT</c>).</summary>
    public string AppRoot { get; }

    /// <summary>Whether the process is running.</summary>
    public bool IsRunning => _process is { HasExited: false };

    /// <summary>The current process's recent output, for failure messages.</summary>
    public string Output => _process?.Output ?? "";

    /// <summary>
    /// Starts the app against <paramref name="coordinatorStorage"/> (the coordinator's storage account: its inbox and
    /// <c>tx-coordinator</c>) with <paramref name="signingKey"/> as the <c>shipping</c> participant's key, on the database
    /// <paramref name="database"/>; waits until it answers HTTP and its schema exists.
    /// </summary>
    /// <param name="coordinatorStorage">The coordinator's storage connection string.</param>
    /// <param name="signingKey">The participant's key, as the coordinator holds it.</param>
    /// <param name="database">The app's database connection string.</param>
    /// <param name="settings">More settings (or overrides: a null value removes one).</param>
    /// <param name="cancellationToken">Stops waiting.</param>
    public static async Task<ShippingServer> StartAsync(
        string coordinatorStorage, string signingKey, string database, IReadOnlyDictionary<string, string?>? settings = null, CancellationToken cancellationToken = default)
    {
        var appRoot = Path.Combine(Path.GetTempPath(), $"serverless-shipping-{TestNames.UniquePrefix()}");
        Directory.CreateDirectory(appRoot);
        File.Copy(Path.Combine(Path.GetDirectoryName(AppDll)!, "host.json"), Path.Combine(appRoot, "host.json"));
        var port = FreePort.Get();
        var environment = new Dictionary<string, string?>
        {
            ["FUNCTIONS_APP_ROOT"] = appRoot,
            ["AzureWebJobsStorage"] = coordinatorStorage,
            ["COORDINATOR_STORAGE"] = coordinatorStorage,
            ["PARTICIPANT_SHIPPING_SIGNING_KEY"] = signingKey,
            ["SHIPPING_POSTGRES_CONNECTION"] = database,
            ["TRANSACTIONS_IN_DOUBT_SCHEDULE"] = "*/2 * * * * *",
            ["TRANSACTIONS_IN_DOUBT_SECONDS"] = "5",
            ["TRANSACTIONS_API_KEY"] = null,
            ["Host__LocalHttpPort"] = port.ToString(CultureInfo.InvariantCulture),
            ["AzureFunctionsJobHost__extensions__queues__maxPollingInterval"] = "00:00:00.5",
            ["LOCALHOST_WORKER_ID"] = $"shipping-{Guid.NewGuid():N}"[..17],
            ["ASPNETCORE_URLS"] = null,
            ["ASPNETCORE_ENVIRONMENT"] = "Production",
        };
        foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
        {
            environment[key] = value;
        }

        var server = new ShippingServer(appRoot, port, database, environment);
        try
        {
            await server.StartProcessAsync(cancellationToken);
            return server;
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }
    }

    /// <summary>The built app, <c>src/Serverless.Shipping/bin/{configuration}/net10.0/Serverless.Shipping.dll</c>.</summary>
    public static string AppDll => Built("Serverless.Shipping");

    /// <summary>The built local Functions host, beside the app in the same configuration.</summary>
    public static string HostDll => Built("Serverless.LocalHost");

    /// <summary>Kills the process at once (SIGKILL: no flush, no shutdown) and waits until it is gone.</summary>
    public async Task KillAsync()
    {
        if (_process is not null)
        {
            await _process.KillAndWaitAsync(TimeSpan.FromSeconds(10));
        }
    }

    /// <summary>Starts the app again on the same database and port, killing it first if it still runs.</summary>
    public async Task RestartAsync(CancellationToken cancellationToken = default)
    {
        await KillAsync();
        await StartProcessAsync(cancellationToken);
    }

    /// <summary>The shipment of <paramref name="orderId"/> as <c>GET /api/shipments/{orderId}</c> shows it, or null for a 404.</summary>
    public async Task<JsonElement?> ShipmentAsync(string orderId, CancellationToken cancellationToken = default)
    {
        using var response = await Client.GetAsync($"/api/shipments/{Uri.EscapeDataString(orderId)}", cancellationToken);
        if (response.StatusCode == HttpStatusCode.NotFound)
        {
            return null;
        }

        response.EnsureSuccessStatusCode();
        return await response.Content.ReadFromJsonAsync<JsonElement>(cancellationToken);
    }

    /// <summary>The gids of the transactions the app's database holds prepared.</summary>
    public Task<List<string>> PreparedGidsAsync() => PostgresServer.PreparedGidsAsync(Database);

    /// <summary>How many shipments the database holds, committed.</summary>
    public async Task<long> ShipmentCountAsync()
    {
        await using var connection = new NpgsqlConnection(Database);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT count(*) FROM shipments", connection);
        return (long)(await command.ExecuteScalarAsync())!;
    }

    /// <summary>Kills the process and deletes its folder.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_process is not null)
        {
            await _process.DisposeAsync();
        }

        Client.Dispose();
        _probe.Dispose();
        NpgsqlConnection.ClearAllPools();
        try
        {
            Directory.Delete(AppRoot, recursive: true);
        }
        catch (DirectoryNotFoundException)
        {
        }
    }

    /// <inheritdoc />
    public override string ToString() => $"shipping on {BaseUrl} ({_process})";

    private async Task StartProcessAsync(CancellationToken cancellationToken)
    {
        if (_process is not null)
        {
            await _process.DisposeAsync();
        }

        var dotnet = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } path && File.Exists(path) ? path : "dotnet";
        var process = ChildProcess.Start(dotnet, [HostDll, "--app", AppDll], AppRoot, _settings);
        _process = process;
        var probe = new Uri(BaseUrl, "/api/shipments/probe").AbsoluteUri;
        try
        {
            await Eventually.WaitAsync(
                async () =>
                {
                    if (process.HasExited)
                    {
                        await process.WaitForExitAsync(TimeSpan.FromSeconds(5), cancellationToken);
                        throw new InvalidOperationException($"the shipping app (pid {process.Id}) exited with code {process.ExitCode} while starting on {BaseUrl}. Output:\n{process.Output}");
                    }

                    // A 404 for an order without a shipment: the route answers and the shipments table exists.
                    return await HttpProbe.AnswersAsync(_probe, probe, status => status == HttpStatusCode.NotFound, cancellationToken);
                },
                StartTimeout,
                $"the shipping app (pid {process.Id}) to answer {probe}",
                cancellationToken);
        }
        catch (TimeoutException timeout)
        {
            throw new TimeoutException($"{timeout.Message} Output:\n{process.Output}", timeout);
        }
    }

    private static string Built(string project)
    {
        var configuration = typeof(ShippingServer).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration ?? "Debug";
        var dll = Path.Combine(RepositoryRoot.Find(), "src", project, "bin", configuration, "net10.0", $"{project}.dll");
        return File.Exists(dll)
            ? dll
            : throw new InvalidOperationException($"'{dll}' does not exist. Build the solution (or tests/Serverless.Testing, which builds it) in {configuration}.");
    }
}
