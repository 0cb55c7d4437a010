using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json;
using Azure.Data.Tables;
using Azure.Storage.Queues;
using Microsoft.AspNetCore.Builder;
using Microsoft.DurableTask.Client;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Serverless.Core.Messaging;
using Serverless.Functions.Coordination;
using Serverless.Functions.Hosting;
using Serverless.Functions.Settings;
using Serverless.Functions.Storage;
using Serverless.LocalHost;

namespace Serverless.Testing;

/// <summary>
/// The local Functions host, in this process, on a free loopback port, against a private Azurite of its own (on disk in a
/// temporary folder): queue names are the contract's fixed names, so hosts never share an Azurite unless a test says so.
/// </summary>
public sealed class TestHost : IAsyncDisposable
{
    /// <summary>The signing key every test host uses unless told otherwise.</summary>
    public const string SigningKey = "test-signing-key-0123456789abcdef";

    /// <summary>A key of the right length that no test host accepts.</summary>
    public const string WrongKey = "not-the-key-of-any-test-host-0123456789";

    /// <summary>A codec that signs with <see cref="WrongKey"/>: its messages are forgeries to every test host.</summary>
    public static MessageCodec ForgingCodec { get; } = new(System.Text.Encoding.UTF8.GetBytes(WrongKey));

    /// <summary>The wire form of <paramref name="message"/> with no signature at all, as an attacker without a key writes it.</summary>
    public static string WithoutSignature(ProtocolMessage message)
    {
        var root = System.Text.Json.Nodes.JsonNode.Parse(ForgingCodec.Encode(message))!.AsObject();
        root.Remove("kid");
        root.Remove("sig");
        return root.ToJsonString();
    }

    /// <summary>
    /// The app folder of every test host: the app's host.json and nothing else, so that a developer's local.settings.json
    /// (copied into the build output, as Core Tools wants it) never reaches a test: every setting is the test's.
    /// </summary>
    private static readonly Lazy<string> AppRoot = new(() =>
    {
        var root = Path.Combine(Path.GetTempPath(), "serverless-tests", $"app-{Environment.ProcessId}");
        Directory.CreateDirectory(root);
        File.Copy(Path.Combine(AppContext.BaseDirectory, "host.json"), Path.Combine(root, "host.json"), overwrite: true);
        return root;
    });

    private readonly bool _ownsAzurite;

    private TestHost(WebApplication app, HttpClient client, AzuriteInstance azurite, bool ownsAzurite, string taskHub)
    {
        App = app;
        Client = client;
        Azurite = azurite;
        _ownsAzurite = ownsAzurite;
        TaskHub = taskHub;
    }

    public WebApplication App { get; }

    public HttpClient Client { get; }

    public AzuriteInstance Azurite { get; }

    public string ConnectionString => Azurite.ConnectionString;

    public string TaskHub { get; }

    public IServiceProvider Services => App.Services;

    /// <summary>Every participant's key, as this host holds them.</summary>
    public ParticipantKeyring Keys => Services.GetRequiredService<ParticipantKeyring>();

    /// <summary>The codec of <paramref name="participant"/>'s key: signs commands it accepts and replies the coordinator takes from it.</summary>
    public MessageCodec CodecOf(string participant) => Keys.For(participant);

    public DecisionStore Decisions => Services.GetRequiredService<DecisionStore>();

    /// <summary>This host's Durable client: to raise events, terminate or read instances as an operator or a client would.</summary>
    public DurableTaskClient Durable() => Services.GetRequiredService<DurableTaskClient>();

    /// <summary>A queue of this host's storage (base64 messages, as the queue triggers read them).</summary>
    public QueueClient Queue(string name) =>
        new QueueServiceClient(ConnectionString, new QueueClientOptions { MessageEncoding = QueueMessageEncoding.Base64 }).GetQueueClient(name);

    /// <summary>A table of this host's storage.</summary>
    public TableClient Table(string name) => new TableServiceClient(ConnectionString).GetTableClient(name);

    /// <summary>
    /// Starts a host. With no <paramref name="azurite"/>, a private on-disk Azurite is started (and stopped on dispose).
    /// </summary>
    /// <param name="settings">Settings overriding the defaults below (a null value removes a default).</param>
    /// <param name="azurite">An Azurite to use instead of a private one (two hosts on one task hub, an outage test).</param>
    /// <param name="logs">Also receives every log line of the host.</param>
    /// <param name="clientTimeout">When the client gives up on a request; default 90 s.</param>
    /// <param name="configureServices">Changes the app's services after they are registered (a clock of the test's, say).</param>
    public static async Task<TestHost> StartAsync(
        IReadOnlyDictionary<string, string?>? settings = null,
        AzuriteInstance? azurite = null,
        ILoggerProvider? logs = null,
        TimeSpan? clientTimeout = null,
        Action<IServiceCollection>? configureServices = null)
    {
        var owns = azurite is null;
        azurite ??= await AzuriteInstance.StartAsync(new AzuriteOptions { Location = Path.Combine(Path.GetTempPath(), "serverless-tests", Guid.NewGuid().ToString("N")) });
        try
        {
            var port = FreePort.Get();
            var overrides = new Dictionary<string, string?>
            {
                ["AzureWebJobsStorage"] = azurite.ConnectionString,
                ["Host:LocalHttpPort"] = port.ToString(CultureInfo.InvariantCulture),
                ["TRANSACTIONS_PARTICIPANTS"] = "bank,inventory,ghost",
                ["TRANSACTIONS_SIGNING_KEY"] = SigningKey,
                ["TRANSACTIONS_PHASE2_RETRY_SECONDS"] = "1",
                ["TRANSACTIONS_IN_DOUBT_SCHEDULE"] = "*/30 * * * * *",
                ["AzureWebJobs.OrdersParticipant.Disabled"] = "true",
                ["AzureWebJobs.LedgerParticipant.Disabled"] = "true",
                ["AzureFunctionsJobHost:extensions:durableTask:storageProvider:maxQueuePollingInterval"] = "00:00:00.5",
                ["AzureFunctionsJobHost:extensions:queues:maxPollingInterval"] = "00:00:00.5",
                ["Logging:LogLevel:Default"] = "Warning",

                // Every host a worker of its own, as two instances of a Functions app are: a host stopped and another
                // started on the same storage hand Durable's partitions over instead of sharing one owner's name.
                ["LOCALHOST_WORKER_ID"] = $"test-{Guid.NewGuid():N}"[..17],
            };
            foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
            {
                overrides[key] = value;
            }

            var app = LocalFunctionsHost.Build([], overrides, configureServices: configureServices, appRoot: AppRoot.Value);
            if (logs is not null)
            {
                app.Services.GetRequiredService<ILoggerFactory>().AddProvider(logs);
            }

            await app.StartAsync();
            var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = clientTimeout ?? TimeSpan.FromSeconds(90) };
            var host = new TestHost(app, client, azurite, owns, app.Services.GetRequiredService<TransactionsSettings>().TaskHub);
            await Eventually.WaitAsync(async () => (await client.GetAsync("/api/health")).IsSuccessStatusCode, TimeSpan.FromSeconds(30), "host healthy");
            return host;
        }
        catch
        {
            if (owns)
            {
                await azurite.DisposeAsync();
            }

            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        try
        {
            await App.StopAsync(stop.Token);
        }
        finally
        {
            await App.DisposeAsync();
            if (_ownsAzurite)
            {
                var location = Azurite.Location;
                await Azurite.DisposeAsync();
                if (location is not null)
                {
                    try
                    {
                        Directory.Delete(location, recursive: true);
                    }
                    catch (IOException)
                    {
                    }
                }
            }
        }
    }

    public Task<HttpResponseMessage> PutAccountAsync(string account, long balance) =>
        Client.PutAsJsonAsync($"/api/bank/accounts/{account}", new { balance });

    public Task<(long Balance, long Held)> GetAccountAsync(string account) => GetAccountAsync(Client, account);

    public static async Task<(long Balance, long Held)> GetAccountAsync(HttpClient client, string account)
    {
        var doc = await client.GetFromJsonAsync<JsonElement>($"/api/bank/accounts/{account}");
        return (doc.GetProperty("balance").GetInt64(), doc.GetProperty("held").GetInt64());
    }

    /// <summary>An inventory item's stock and reservations.</summary>
    public async Task<(long Stock, long Reserved)> GetItemAsync(string sku)
    {
        var item = await Client.GetFromJsonAsync<JsonElement>($"/api/inventory/items/{sku}");
        return (item.GetProperty("stock").GetInt64(), item.GetProperty("reserved").GetInt64());
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

    /// <summary>Waits until the transaction's status document satisfies <paramref name="condition"/>; returns it.</summary>
    public async Task<JsonElement> WaitForStatusAsync(string id, Func<JsonElement, bool> condition, TimeSpan timeout, string description)
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
                return condition(last);
            },
            timeout,
            $"transaction {id}: {description}");
        return last;
    }

    /// <summary>The visible messages of a queue (up to 32), decoded as the queue triggers decode them.</summary>
    public async Task<IReadOnlyList<string>> PeekAsync(string queue)
    {
        var client = Queue(queue);
        return await client.ExistsAsync() ? [.. (await client.PeekMessagesAsync(32)).Value.Select(m => m.Body.ToString())] : [];
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

    /// <summary>A transaction of two branches at <c>ghost</c>, which nobody serves: it waits an hour for the votes a test sends itself.</summary>
    public static object TwoGhostBranches(string id) => new
    {
        transactionId = id,
        timeoutSeconds = 3600,
        participants = new object[]
        {
            new { participant = "ghost", operation = new { step = 0 } },
            new { participant = "ghost", operation = new { step = 1 } },
        },
    };

    public static string Id(string hint) => $"{hint}-{Guid.NewGuid():N}"[..Math.Min(64, hint.Length + 33)];
}
