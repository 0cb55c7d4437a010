using System.Collections.Concurrent;
using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Serverless.Core.Messaging;
using Serverless.Functions.Hosting;
using Serverless.Runtime.Coordination;
using Serverless.Runtime.Messaging;
using Serverless.Runtime.Storage;
using Serverless.Testing;

namespace Serverless.Resilience.Tests;

/// <summary>
/// The real host, in this process, on a free loopback port, with its own queue and table names (a unique prefix):
/// tests never see each other's data. Every log line it writes is kept, so a test can wait for one.
/// </summary>
public sealed class TestApp : IAsyncDisposable
{
    private TestApp(WebApplication app, HttpClient client, string prefix, LogCapture logs)
    {
        App = app;
        Client = client;
        Prefix = prefix;
        Logs = logs;
    }

    public WebApplication App { get; }

    /// <summary>A client whose requests give up after 30 s (a start may long-poll up to 20 s in these tests).</summary>
    public HttpClient Client { get; }

    public string Prefix { get; }

    public LogCapture Logs { get; }

    public IServiceProvider Services => App.Services;

    public StorageNames Names => Services.GetRequiredService<StorageNames>();

    public QueueTransport Transport => Services.GetRequiredService<QueueTransport>();

    public MessageCodec Codec => Services.GetRequiredService<MessageCodec>();

    public TransactionCoordinator Coordinator => Services.GetRequiredService<TransactionCoordinator>();

    public static async Task<TestApp> StartAsync(string connectionString, IReadOnlyDictionary<string, string?>? settings = null)
    {
        var prefix = TestNames.UniquePrefix();
        var port = FreePort.Get();
        var overrides = new Dictionary<string, string?>
        {
            ["AzureWebJobsStorage"] = connectionString,
            ["TRANSACTIONS_STORAGE_PREFIX"] = prefix,
            ["TRANSACTIONS_PARTICIPANTS"] = "bank,inventory",
            ["Host:LocalHttpPort"] = port.ToString(CultureInfo.InvariantCulture),
            ["TRANSACTIONS_PHASE2_RETRY_SECONDS"] = "1",
        };
        foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
        {
            overrides[key] = value;
        }

        var app = FunctionApp.Create([], overrides);
        var logs = new LogCapture();
        app.Services.GetRequiredService<ILoggerFactory>().AddProvider(logs);
        await app.StartAsync();
        var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(30) };
        await Eventually.WaitAsync(async () => (await client.GetAsync("/api/health")).IsSuccessStatusCode, TimeSpan.FromSeconds(30), "the host to be healthy");
        return new TestApp(app, client, prefix, logs);
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await App.StopAsync(stop.Token);
        await App.DisposeAsync();
    }

    public async Task PutAccountAsync(string account, long balance) =>
        (await Client.PutAsJsonAsync($"/api/bank/accounts/{account}", new { balance })).EnsureSuccessStatusCode();

    public async Task PutItemAsync(string sku, long stock) =>
        (await Client.PutAsJsonAsync($"/api/inventory/items/{sku}", new { stock })).EnsureSuccessStatusCode();

    public async Task<(long Balance, long Held)> GetAccountAsync(string account)
    {
        var doc = await Client.GetFromJsonAsync<JsonElement>($"/api/bank/accounts/{account}");
        return (doc.GetProperty("balance").GetInt64(), doc.GetProperty("held").GetInt64());
    }

    public async Task<(long Stock, long Reserved)> GetItemAsync(string sku)
    {
        var doc = await Client.GetFromJsonAsync<JsonElement>($"/api/inventory/items/{sku}");
        return (doc.GetProperty("stock").GetInt64(), doc.GetProperty("reserved").GetInt64());
    }

    /// <summary>Waits until the transaction's status is one of <paramref name="statuses"/>; returns the document.</summary>
    public async Task<JsonElement> WaitForStatusAsync(string id, TimeSpan timeout, params string[] statuses)
    {
        JsonElement last = default;
        await Eventually.WaitAsync(
            async () =>
            {
                using var response = await Client.GetAsync($"/api/transactions/{id}");
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

    /// <summary>Messages in a queue of this host (its prefix added), 0 when it does not exist.</summary>
    public async Task<int> CountAsync(string queue)
    {
        var client = Transport.Queue(queue.StartsWith(Prefix, StringComparison.Ordinal) ? queue : Prefix + queue);
        return await client.ExistsAsync() ? (await client.GetPropertiesAsync()).Value.ApproximateMessagesCount : 0;
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

    public static string Id(string hint) => $"{hint}-{Guid.NewGuid():N}";
}

/// <summary>Keeps every log line of a host (event id, category, message) so that tests can wait on what it did.</summary>
public sealed class LogCapture : ILoggerProvider
{
    private readonly ConcurrentQueue<(int EventId, string Category, string Message)> _lines = new();

    public IReadOnlyCollection<(int EventId, string Category, string Message)> Lines => _lines;

    public int Count(int eventId, string fragment) => _lines.Count(l => l.EventId == eventId && l.Message.Contains(fragment, StringComparison.Ordinal));

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void Dispose()
    {
    }

    private sealed class Logger(LogCapture capture, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Information;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            capture._lines.Enqueue((eventId.Id, category, formatter(state, exception)));
    }
}
