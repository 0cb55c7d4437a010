using System.Globalization;
using System.Net;
using System.Net.Http.Json;
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
public sealed class ShippingServer : ServiceProcess
{
    private readonly Dictionary<string, string?> _settings;

    private ShippingServer(string appRoot, int port, string database, Dictionary<string, string?> settings)
        : base("the shipping app", port)
    {
        AppRoot = appRoot;
        Database = database;
        _settings = settings;
        Client = new HttpClient { BaseAddress = BaseUrl, Timeout = TimeSpan.FromSeconds(30) };
    }

    /// <summary>A client of the app's routes.</summary>
    public HttpClient Client { get; private set; }

    /// <summary>The app's own database (<c>SHIPPING_POSTGRES_CONNECTION</c>).</summary>
    public string Database { get; }

    /// <summary>The app's folder (<c>FUNCTIONS_APP_ROOT</c>).</summary>
    public string AppRoot { get; }

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
    public static string AppDll => BuiltDll("Serverless.Shipping");

    /// <summary>The built local Functions host, beside the app in the same configuration.</summary>
    public static string HostDll => BuiltDll("Serverless.LocalHost");

    // A 404 for an order without a shipment: the route answers, and the shipments table exists.
    protected override string ReadyPath => "/api/shipments/probe";

    protected override TimeSpan StartTimeout => TimeSpan.FromSeconds(60);

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
    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        Client.Dispose();
        NpgsqlConnection.ClearAllPools();
        try
        {
            Directory.Delete(AppRoot, recursive: true);
        }
        catch (DirectoryNotFoundException)
        {
        }
    }

    protected override bool IsReady(HttpStatusCode status) => status == HttpStatusCode.NotFound;

    protected override void OnPortChanged()
    {
        _settings["Host__LocalHttpPort"] = Port.ToString(CultureInfo.InvariantCulture);
        Client.Dispose();
        Client = new HttpClient { BaseAddress = BaseUrl, Timeout = TimeSpan.FromSeconds(30) };
    }

    protected override ChildProcess Start() => ChildProcess.Start(Dotnet, [HostDll, "--app", AppDll], AppRoot, _settings);

}
