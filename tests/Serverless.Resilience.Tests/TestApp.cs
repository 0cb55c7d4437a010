using System.Collections.Concurrent;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Serverless.Core.Messaging;
using Serverless.Runtime.Coordination;
using Serverless.Runtime.Messaging;
using Serverless.Runtime.Storage;
using Serverless.Functions.Tests;
using Serverless.Testing;

namespace Serverless.Resilience.Tests;

/// <summary>
/// The shared <see cref="TestHost"/> (the real host in this process, its own queue and table names) with what
/// these tests add: every log line kept, so a test can wait for one, and a client that gives up after 30 s.
/// </summary>
public sealed class TestApp : IAsyncDisposable
{
    private readonly TestHost _host;

    private TestApp(TestHost host, LogCapture logs)
    {
        _host = host;
        Logs = logs;
    }

    public WebApplication App => _host.App;

    /// <summary>A client whose requests give up after 30 s (a start may long-poll up to 20 s in these tests).</summary>
    public HttpClient Client => _host.Client;

    public string Prefix => _host.Prefix;

    public LogCapture Logs { get; }

    public IServiceProvider Services => _host.Services;

    public StorageNames Names => _host.Names;

    public QueueTransport Transport => _host.Transport;

    public MessageCodec Codec => Services.GetRequiredService<MessageCodec>();

    public TransactionCoordinator Coordinator => Services.GetRequiredService<TransactionCoordinator>();

    public static async Task<TestApp> StartAsync(string connectionString, IReadOnlyDictionary<string, string?>? settings = null)
    {
        var overrides = new Dictionary<string, string?> { ["TRANSACTIONS_PARTICIPANTS"] = "bank,inventory" };
        foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
        {
            overrides[key] = value;
        }

        var logs = new LogCapture();
        return new TestApp(await TestHost.StartAsync(connectionString, overrides, logs: logs, clientTimeout: TimeSpan.FromSeconds(30)), logs);
    }

    public ValueTask DisposeAsync() => _host.DisposeAsync();

    public async Task PutAccountAsync(string account, long balance) =>
        (await _host.PutAccountAsync(account, balance)).EnsureSuccessStatusCode();

    public Task<(long Balance, long Held)> GetAccountAsync(string account) => _host.GetAccountAsync(account);

    public Task<JsonElement> WaitForStatusAsync(string id, TimeSpan timeout, params string[] statuses) => _host.WaitForStatusAsync(id, timeout, statuses);

    public async Task PutItemAsync(string sku, long stock) =>
        (await Client.PutAsJsonAsync($"/api/inventory/items/{sku}", new { stock })).EnsureSuccessStatusCode();

    public async Task<(long Stock, long Reserved)> GetItemAsync(string sku)
    {
        var doc = await Client.GetFromJsonAsync<JsonElement>($"/api/inventory/items/{sku}");
        return (doc.GetProperty("stock").GetInt64(), doc.GetProperty("reserved").GetInt64());
    }

    /// <summary>Messages in a queue of this host (its prefix added), 0 when it does not exist.</summary>
    public async Task<int> CountAsync(string queue)
    {
        var client = Transport.Queue(queue.StartsWith(Prefix, StringComparison.Ordinal) ? queue : Prefix + queue);
        return await client.ExistsAsync() ? (await client.GetPropertiesAsync()).Value.ApproximateMessagesCount : 0;
    }

    public static object Transfer(string? id, string from, string to, long amount, int? timeoutSeconds = null) =>
        TestHost.Transfer(id, from, to, amount, timeoutSeconds);

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
