using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Reflection;
using System.Security.Cryptography;
using System.Text.Json;

namespace Serverless.Testing;

/// <summary>
/// The demo payment service (<c>src/Serverless.Payments</c>) as a real child process: the built
/// <c>Serverless.Payments.dll</c> on a free loopback port, with its journal in a fresh temporary folder and a random
/// <c>PAYMENTS_API_KEY</c> of its own (<see cref="ApiKey"/>, which <see cref="Client"/> sends as its bearer). It can be
/// killed abruptly and started again on the same folder and key (and the same port when it is still free).
/// </summary>
/// <remarks>
/// Nothing is built here: Serverless.Testing references the service's project (without its assembly) so that building any
/// test project builds it, in the same configuration, and the dll is taken from
/// <c>src/Serverless.Payments/bin/{configuration}/net10.0</c>. Disposing kills the process and deletes the folder.
/// </remarks>
public sealed class PaymentsServer : ServiceProcess
{
    /// <summary>The setting that holds the service's key, the service's and the app's.</summary>
    public const string ApiKeySetting = "PAYMENTS_API_KEY";

    private PaymentsServer(string dataDirectory, int port)
        : base("the payment service", port)
    {
        DataDirectory = dataDirectory;
        ApiKey = Convert.ToBase64String(RandomNumberGenerator.GetBytes(48));
        Probe.DefaultRequestHeaders.Authorization = Bearer(ApiKey);
        Client = NewClient(BaseUrl, ApiKey);
    }

    /// <summary>This instance's <c>PAYMENTS_API_KEY</c> (random, 48 bytes base64): give it to the app as <see cref="ApiKeySetting"/>.</summary>
    public string ApiKey { get; }

    /// <summary>The built service, <c>src/Serverless.Payments/bin/{configuration}/net10.0/Serverless.Payments.dll</c>.</summary>
    public static string DllPath => BuiltDll("Serverless.Payments");

    /// <summary>
    /// A client of the service (base address <see cref="ServiceProcess.BaseUrl"/>, 30 s timeout, <c>Authorization: Bearer</c>
    /// <see cref="ApiKey"/>); replaced if a restart changes the port.
    /// </summary>
    public HttpClient Client { get; private set; }

    /// <summary>The service's <c>PAYMENTS_DATA_DIR</c>.</summary>
    public string DataDirectory { get; }

    /// <summary>The journal file in <see cref="DataDirectory"/>.</summary>
    public string JournalPath => Path.Combine(DataDirectory, "journal.jsonl");

    /// <summary>Starts the service on a free port with a fresh data folder and waits until <c>/health</c> answers.</summary>
    /// <exception cref="InvalidOperationException">The process ended while starting; the message holds its output.</exception>
    /// <exception cref="TimeoutException">It did not answer within the start timeout; the message holds its output.</exception>
    public static async Task<PaymentsServer> StartAsync(CancellationToken cancellationToken = default)
    {
        var folder = Path.Combine(Path.GetTempPath(), $"serverless-payments-{TestNames.UniquePrefix()}");
        Directory.CreateDirectory(folder);
        var server = new PaymentsServer(folder, FreePort.Get());
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

    protected override string ReadyPath => "/health";

    protected override void OnPortChanged()
    {
        Client.Dispose();
        Client = NewClient(BaseUrl, ApiKey);
    }

    /// <summary>Sets (creating if need be) an account's balance, in minor units.</summary>
    public async Task SetBalanceAsync(string account, long balance, CancellationToken cancellationToken = default)
    {
        using var response = await Client.PutAsJsonAsync($"/accounts/{account}", new { balance }, cancellationToken);
        await EnsureAsync(response, $"PUT /accounts/{account}", cancellationToken);
    }

    /// <summary>The account's balance, or null when there is no such account.</summary>
    public async Task<long?> BalanceAsync(string account, CancellationToken cancellationToken = default)
    {
        using var response = await Client.GetAsync($"/accounts/{account}", cancellationToken);
        if (response.StatusCode == HttpStatusCode.NotFound)
        {
            return null;
        }

        await EnsureAsync(response, $"GET /accounts/{account}", cancellationToken);
        return (await response.Content.ReadFromJsonAsync<JsonElement>(cancellationToken)).GetProperty("balance").GetInt64();
    }

    /// <summary>
    /// Sets the account's faults: <paramref name="charge"/> null, "fail", "hang" or "lose"; <paramref name="refund"/> null,
    /// "fail" or "hang"; <paramref name="times"/> how many requests they apply to (null: until cleared).
    /// </summary>
    public async Task SetFaultAsync(
        string account, string? charge, string? refund = null, int? times = null, CancellationToken cancellationToken = default)
    {
        using var response = await Client.PutAsJsonAsync($"/faults/{account}", new { charge, refund, times }, cancellationToken);
        await EnsureAsync(response, $"PUT /faults/{account}", cancellationToken);
    }

    /// <summary>Clears the account's faults (its request counters stay).</summary>
    public async Task ClearFaultAsync(string account, CancellationToken cancellationToken = default)
    {
        using var response = await Client.DeleteAsync($"/faults/{account}", cancellationToken);
        await EnsureAsync(response, $"DELETE /faults/{account}", cancellationToken);
    }

    /// <summary>How many charge requests for the account this process has seen, faulted ones included.</summary>
    public async Task<long> ChargeRequestsAsync(string account, CancellationToken cancellationToken = default) =>
        (await FaultsAsync(account, cancellationToken)).GetProperty("chargeRequests").GetInt64();

    /// <summary>How many refund requests for the account (the charge's account) this process has seen, faulted ones included.</summary>
    public async Task<long> RefundRequestsAsync(string account, CancellationToken cancellationToken = default) =>
        (await FaultsAsync(account, cancellationToken)).GetProperty("refundRequests").GetInt64();

    /// <summary>The account's <c>GET /faults/{account}</c> document.</summary>
    public async Task<JsonElement> FaultsAsync(string account, CancellationToken cancellationToken = default)
    {
        using var response = await Client.GetAsync($"/faults/{account}", cancellationToken);
        await EnsureAsync(response, $"GET /faults/{account}", cancellationToken);
        return await response.Content.ReadFromJsonAsync<JsonElement>(cancellationToken);
    }

    /// <summary>Kills the process and deletes the data folder.</summary>
    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        Client.Dispose();
        try
        {
            Directory.Delete(DataDirectory, recursive: true);
        }
        catch (DirectoryNotFoundException)
        {
        }
    }

    /// <summary>A client of the service at <see cref="ServiceProcess.BaseUrl"/> that sends <paramref name="bearer"/> (null: no Authorization header).</summary>
    public HttpClient ClientWithBearer(string? bearer) => NewClient(BaseUrl, bearer);

    private static HttpClient NewClient(Uri baseUrl, string? bearer)
    {
        var client = new HttpClient { BaseAddress = baseUrl, Timeout = TimeSpan.FromSeconds(30) };
        if (bearer is not null)
        {
            client.DefaultRequestHeaders.Authorization = Bearer(bearer);
        }

        return client;
    }

    private static AuthenticationHeaderValue Bearer(string key) => new("Bearer", key);

    protected override ChildProcess Start()
    {
        var environment = new Dictionary<string, string?>
        {
            ["PAYMENTS_DATA_DIR"] = DataDirectory,
            [ApiKeySetting] = ApiKey,
            ["ASPNETCORE_URLS"] = null,
            ["ASPNETCORE_ENVIRONMENT"] = "Production",
            ["DOTNET_ENVIRONMENT"] = null,
        };
        return ChildProcess.Start(Dotnet, [DllPath, "--urls", BaseUrl.ToString().TrimEnd('/')], DataDirectory, environment);
    }

    private static async Task EnsureAsync(HttpResponseMessage response, string request, CancellationToken cancellationToken)
    {
        if (!response.IsSuccessStatusCode)
        {
            var body = await response.Content.ReadAsStringAsync(cancellationToken);
            throw new HttpRequestException($"{request}: {(int)response.StatusCode} {body}", null, response.StatusCode);
        }
    }
}
