using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Serverless.Functions.Hosting;
using Serverless.Runtime.Messaging;
using Serverless.Runtime.Storage;
using Serverless.Testing;

namespace Serverless.Functions.Tests;

/// <summary>
/// The real host, in this process, on a free loopback port, with its own queue and table names (a unique
/// prefix) on a shared Azurite: tests never see each other's data.
/// </summary>
public sealed class TestHost : IAsyncDisposable
{
    private TestHost(WebApplication app, HttpClient client, string prefix, string connectionString)
    {
        App = app;
        Client = client;
        Prefix = prefix;
        ConnectionString = connectionString;
    }

    public WebApplication App { get; }

    public HttpClient Client { get; }

    public string Prefix { get; }

    public string ConnectionString { get; }

    public IServiceProvider Services => App.Services;

    public StorageNames Names => Services.GetRequiredService<StorageNames>();

    public QueueTransport Transport => Services.GetRequiredService<QueueTransport>();

    /// <param name="connectionString">Azurite's connection string.</param>
    /// <param name="settings">Settings overriding the defaults below.</param>
    /// <param name="prefix">The queue and table name prefix; a fresh one when null.</param>
    /// <param name="customHandler">Run as an Azure Functions custom handler (no queue listeners of its own).</param>
    /// <param name="logs">Also receives every log line of the host (for tests that wait on what it logged).</param>
    /// <param name="clientTimeout">When the client gives up on a request; default 90 s.</param>
    public static async Task<TestHost> StartAsync(
        string connectionString,
        IReadOnlyDictionary<string, string?>? settings = null,
        string? prefix = null,
        bool customHandler = false,
        Microsoft.Extensions.Logging.ILoggerProvider? logs = null,
        TimeSpan? clientTimeout = null)
    {
        prefix ??= TestNames.UniquePrefix();
        var port = FreePort.Get();
        var overrides = new Dictionary<string, string?>
        {
            ["AzureWebJobsStorage"] = connectionString,
            ["TRANSACTIONS_STORAGE_PREFIX"] = prefix,
            ["TRANSACTIONS_PARTICIPANTS"] = "bank,inventory,ghost",
            [customHandler ? "FUNCTIONS_CUSTOMHANDLER_PORT" : "Host:LocalHttpPort"] = port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["TRANSACTIONS_PHASE2_RETRY_SECONDS"] = "1",
        };
        foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
        {
            overrides[key] = value;
        }

        var app = FunctionApp.Create([], overrides);
        if (logs is not null)
        {
            app.Services.GetRequiredService<Microsoft.Extensions.Logging.ILoggerFactory>().AddProvider(logs);
        }

        await app.StartAsync();
        var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = clientTimeout ?? TimeSpan.FromSeconds(90) };
        var host = new TestHost(app, client, prefix, connectionString);
        await Eventually.WaitAsync(async () => (await client.GetAsync("/api/health")).IsSuccessStatusCode, TimeSpan.FromSeconds(30), "host healthy");
        return host;
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await App.StopAsync(stop.Token);
        await App.DisposeAsync();
    }

    public Task<HttpResponseMessage> PutAccountAsync(string account, long balance) =>
        Client.PutAsJsonAsync($"/api/bank/accounts/{account}", new { balance });

    public Task<(long Balance, long Held)> GetAccountAsync(string account) => GetAccountAsync(Client, account);

    public static async Task<(long Balance, long Held)> GetAccountAsync(HttpClient client, string account)
    {
        var doc = await client.GetFromJsonAsync<JsonElement>($"/api/bank/accounts/{account}");
        return (doc.GetProperty("balance").GetInt64(), doc.GetProperty("held").GetInt64());
    }

    public Task<HttpResponseMessage> StartAsync(object body, int? waitSeconds = null) =>
        Client.PostAsJsonAsync(waitSeconds is { } w ? $"/api/transactions?waitSeconds={w}" : "/api/transactions", body);

    public async Task<JsonElement> GetStatusAsync(string id) => await Client.GetFromJsonAsync<JsonElement>($"/api/transactions/{id}");

    /// <summary>Waits until the transaction's status is one of <paramref name="statuses"/>; returns the document.</summary>
    public async Task<JsonElement> WaitForStatusAsync(string id, TimeSpan timeout, params string[] statuses)
    {
        JsonElement last = default;
        await Eventually.WaitAsync(
            async () =>
            {
                var response = await Client.GetAsync($"/api/transactions/{id}");
                if (!response.IsSuccessStatusCode)
                {
                    return false;
                }

                last = await response.Content.ReadFromJsonAsync<JsonElement>();
                return statuses.Contains(last.GetProperty("status").GetString());
            },
            timeout,
            $"transaction {id} reaching {string.Join("/", statuses)}");
        return last;
    }

    public static object Transfer(string? id, string from, string to, long amount, int? timeoutSeconds = null) => new
    {
        transactionId = id,
        timeoutSeconds,
        participants = new object[]
        {
            new { participant = "bank", operation = new { type = "debit", account = from, amount } },
            new { participant = "bank", operation = new { type = "credit", account = to, amount } },
        },
    };

    public static string Id(string hint) => $"{hint}-{Guid.NewGuid():N}"[..Math.Min(64, hint.Length + 33)];
}
