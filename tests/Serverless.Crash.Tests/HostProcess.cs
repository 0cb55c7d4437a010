using System.Globalization;
using System.Net.Http.Json;
using System.Reflection;
using System.Text.Json;
using Serverless.Functions.Faults;
using Serverless.Testing;

namespace Serverless.Crash.Tests;

/// <summary>
/// The built local Functions host (<c>dotnet Serverless.LocalHost.dll</c>) as a real child process on a fixed loopback port,
/// with its settings in environment variables: it can be killed with SIGKILL and started again on the same port, storage
/// and worker id (so that it takes its Durable partitions back at once).
/// </summary>
/// <remarks>
/// The hosts run the coordinator and the <c>bank</c> participant, sign their messages, retry phase 2 after 1 s, lease
/// received queue messages (and the prepares a start request hands to the bank in its own process) for <see cref="MessageLeaseSeconds"/> s and Durable's messages for
/// <see cref="DurableLeaseSeconds"/> s (a test may set shorter ones), so that what a killed process held is delivered again
/// soon. Output of every run is kept (see <see cref="OutputLines"/>). A crash point passed to a start arms that run
/// (<see cref="CrashPoints"/>); a start without one runs unarmed.
/// </remarks>
public sealed class HostProcess : IAsyncDisposable
{
    /// <summary>
    /// How long a participant or coordinator queue message held by a killed host stays invisible. The local host does not
    /// renew a lease while its function runs, so a handler slower than this (two hosts competing for one account, on two
    /// cores) has its message delivered again, and after maxDequeueCount such deliveries poisoned though nothing failed:
    /// 2 s did that under load.
    /// </summary>
    public const int MessageLeaseSeconds = 10;

    /// <summary>
    /// How long a Durable control or work-item message held by a killed host stays invisible (host.json
    /// <c>controlQueueVisibilityTimeout</c> and <c>workItemQueueVisibilityTimeout</c>; 5 minutes by default). Much shorter
    /// expires the leases of messages a busy worker still holds.
    /// </summary>
    public const int DurableLeaseSeconds = 30;

    /// <summary>The environment variable prefix of host.json's <c>extensions.durableTask</c>.</summary>
    public const string DurableSetting = "AzureFunctionsJobHost__extensions__durableTask__";

    /// <summary>The task hub of every host of these tests.</summary>
    public const string TaskHub = "CrashTests";

    private const string SigningKey = "crash-tests-signing-key-0123456789abcdef";
    private const int MaxOutputLines = 200_000;
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);
    private static readonly Lazy<string> HostDll = new(FindHostDll);

    private readonly string _connectionString;
    private readonly string _workerId;
    private readonly string _appRoot;
    private readonly IReadOnlyDictionary<string, string?> _extraEnvironment;
    private readonly List<string> _earlierOutput = [];
    private readonly HttpClient _probe;
    private ChildProcess? _process;

    private HostProcess(string name, string connectionString, string appRoot, IReadOnlyDictionary<string, string?>? extraEnvironment)
    {
        _extraEnvironment = extraEnvironment ?? new Dictionary<string, string?>();
        Name = name;
        _connectionString = connectionString;
        _workerId = $"crash-host-{name}-{TestNames.UniquePrefix()}";
        _appRoot = appRoot;
        Port = FreePort.Get();
        BaseAddress = new Uri($"http://127.0.0.1:{Port}");
        Client = new HttpClient { BaseAddress = BaseAddress, Timeout = TimeSpan.FromSeconds(30) };
        _probe = new HttpClient { BaseAddress = BaseAddress, Timeout = TimeSpan.FromSeconds(5) };
    }

    /// <summary>A short name for messages ("A", "B").</summary>
    public string Name { get; }

    /// <summary>The loopback port; the same across restarts, as for a service that comes back.</summary>
    public int Port { get; }

    public Uri BaseAddress { get; }

    /// <summary>A client of this host's HTTP API (30 s timeout).</summary>
    public HttpClient Client { get; }

    /// <summary>How many times the process was started.</summary>
    public int Starts { get; private set; }

    public bool IsRunning => _process is { HasExited: false };

    /// <summary>The current (or last) process.</summary>
    public ChildProcess Process => _process ?? throw new InvalidOperationException("The host was never started.");

    /// <summary>The output of every run so far, in order.</summary>
    public IReadOnlyList<string> OutputLines
    {
        get
        {
            lock (_earlierOutput)
            {
                return [.. _earlierOutput, .. _process?.OutputLines ?? []];
            }
        }
    }

    /// <summary>The last lines of output, for failure messages.</summary>
    public string RecentOutput => string.Join('\n', OutputLines.TakeLast(80));

    /// <summary>
    /// Starts a host on <paramref name="storage"/> and waits until <c>/api/health</c> answers 200. <paramref name="crashPoint"/>
    /// arms this first run only; <paramref name="extraEnvironment"/> adds settings to every run.
    /// </summary>
    public static async Task<HostProcess> StartAsync(
        string name,
        HostFixture fixture,
        AzuriteInstance storage,
        CrashPoint? crashPoint = null,
        int crashAfter = 1,
        IReadOnlyDictionary<string, string?>? extraEnvironment = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(fixture);
        ArgumentNullException.ThrowIfNull(storage);
        var host = new HostProcess(name, storage.ConnectionString, fixture.AppRoot, extraEnvironment);
        try
        {
            if (!await host.StartAgainAsync(crashPoint, crashAfter, cancellationToken))
            {
                throw new InvalidOperationException($"host {name} reached its crash point before it answered. Output:\n{host.RecentOutput}");
            }

            return host;
        }
        catch
        {
            await host.DisposeAsync();
            throw;
        }
    }

    /// <summary>
    /// Starts the process again (it must not be running), optionally armed with a crash point, and waits until it is
    /// healthy. Returns false when it reached its crash point before it answered (possible when work was waiting for it).
    /// </summary>
    public async Task<bool> StartAgainAsync(CrashPoint? crashPoint = null, int crashAfter = 1, CancellationToken cancellationToken = default)
    {
        if (IsRunning)
        {
            throw new InvalidOperationException($"host {Name} (pid {_process!.Id}) is still running");
        }

        if (_process is not null)
        {
            lock (_earlierOutput)
            {
                _earlierOutput.AddRange(_process.OutputLines);
                _earlierOutput.Add($"---- host {Name}: process {_process.Id} ended with code {_process.ExitCode} ----");
            }

            await _process.DisposeAsync();
        }

        const string queues = "AzureFunctionsJobHost__extensions__queues__";
        var durableLease = TimeSpan.FromSeconds(DurableLeaseSeconds).ToString("c", CultureInfo.InvariantCulture);
        var environment = new Dictionary<string, string?>
        {
            ["AzureWebJobsStorage"] = _connectionString,
            ["Host__LocalHttpPort"] = Port.ToString(CultureInfo.InvariantCulture),
            ["FUNCTIONS_APP_ROOT"] = _appRoot,
            ["LOCALHOST_WORKER_ID"] = _workerId,
            ["LOCALHOST_QUEUE_MESSAGE_LEASE_SECONDS"] = MessageLeaseSeconds.ToString(CultureInfo.InvariantCulture),
            ["TRANSACTIONS_LOCAL_DELIVERY_LEASE_SECONDS"] = MessageLeaseSeconds.ToString(CultureInfo.InvariantCulture),
            [DurableSetting + "hubName"] = TaskHub,
            [DurableLeaseSetting("maxQueuePollingInterval")] = "00:00:00.5",
            [DurableLeaseSetting("controlQueueVisibilityTimeout")] = durableLease,
            [DurableLeaseSetting("workItemQueueVisibilityTimeout")] = durableLease,
            [queues + "maxPollingInterval"] = "00:00:00.5",
            ["TRANSACTIONS_PARTICIPANTS"] = "bank",
            ["TRANSACTIONS_PHASE2_RETRY_SECONDS"] = "1",
            ["TRANSACTIONS_SIGNING_KEY"] = SigningKey,
            ["TRANSACTIONS_IN_DOUBT_SCHEDULE"] = "*/5 * * * * *",
            ["AzureWebJobs.OrdersParticipant.Disabled"] = "true",
            ["AzureWebJobs.LedgerParticipant.Disabled"] = "true",
            [CrashPoints.PointVariable] = crashPoint?.ToString(),
            [CrashPoints.AfterVariable] = crashPoint is null ? null : crashAfter.ToString(CultureInfo.InvariantCulture),

            // Nothing from the test runner's environment may change what is under test.
            ["TRANSACTIONS_API_KEY"] = null,
            ["TRANSACTIONS_DEFAULT_TIMEOUT_SECONDS"] = null,
            ["TRANSACTIONS_IN_DOUBT_SECONDS"] = null,
            ["ORDERS_POSTGRES_CONNECTION"] = null,
            ["LEDGER_MYSQL_CONNECTION"] = null,
            ["PAYMENTS_URL"] = null,
            ["PAYMENTS_API_KEY"] = null,
            ["PAYMENTS_TIMEOUT_SECONDS"] = null,
            ["ASPNETCORE_ENVIRONMENT"] = "Production",
            ["DOTNET_ENVIRONMENT"] = null,
        };
        foreach (var (key, value) in _extraEnvironment)
        {
            environment[key] = value;
        }

        var dotnet = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } path && File.Exists(path) ? path : "dotnet";
        _process = ChildProcess.Start(dotnet, [HostDll.Value], _appRoot, environment, MaxOutputLines);
        Starts++;
        return await WaitUntilHealthyAsync(crashPoint is not null, cancellationToken);
    }

    /// <summary>The environment variable of host.json's <c>extensions.durableTask.storageProvider.{name}</c>.</summary>
    public static string DurableLeaseSetting(string name) => $"{DurableSetting}storageProvider__{name}";

    /// <summary>Kills the process at once (SIGKILL) and waits until it is gone.</summary>
    public async Task KillAsync()
    {
        if (_process is not null)
        {
            await _process.KillAndWaitAsync(TimeSpan.FromSeconds(10));
        }
    }

    /// <summary>Waits until the process killed itself at its armed crash point; returns the crash line.</summary>
    public async Task<string> WaitForCrashAsync(TimeSpan timeout)
    {
        var line = await Process.WaitForOutputAsync(CrashPoints.CrashLinePrefix, timeout);
        Assert.True(await Process.WaitForExitAsync(TimeSpan.FromSeconds(10)), $"host {Name} wrote '{line}' but did not end");
        Assert.Equal(137, Process.ExitCode);
        return line;
    }

    public async Task PutAccountAsync(string account, long balance)
    {
        using var response = await Client.PutAsJsonAsync($"/api/bank/accounts/{account}", new { balance });
        Assert.True(response.IsSuccessStatusCode, $"PUT account {account}: {(int)response.StatusCode}");
    }

    /// <summary>The status document, or null when the transaction is unknown.</summary>
    public async Task<JsonElement?> GetStatusAsync(string id, CancellationToken cancellationToken = default)
    {
        using var response = await Client.GetAsync($"/api/transactions/{id}", cancellationToken);
        if (response.StatusCode == System.Net.HttpStatusCode.NotFound)
        {
            return null;
        }

        response.EnsureSuccessStatusCode();
        return await response.Content.ReadFromJsonAsync<JsonElement>(cancellationToken);
    }

    /// <summary>Waits until the transaction has ended (Committed or Aborted) and returns its status document.</summary>
    public async Task<JsonElement> WaitForEndAsync(string id, TimeSpan timeout)
    {
        JsonElement? last = null;
        await Eventually.WaitAsync(
            async () =>
            {
                last = await GetStatusAsync(id);
                return last?.GetProperty("status").GetString() is "Committed" or "Aborted";
            },
            timeout,
            $"transaction {id} to end (host {Name})");
        return last!.Value;
    }

    /// <summary>Waits until the transaction is decided (its status document names a decision) and returns the document.</summary>
    public async Task<JsonElement> WaitForDecisionAsync(string id, TimeSpan timeout)
    {
        JsonElement? last = null;
        await Eventually.WaitAsync(
            async () =>
            {
                last = await GetStatusAsync(id);
                return last?.GetProperty("decision").ValueKind == JsonValueKind.String;
            },
            timeout,
            $"transaction {id} to be decided (host {Name})");
        return last!.Value;
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        _probe.Dispose();
        if (_process is not null)
        {
            await _process.DisposeAsync();
        }
    }

    private async Task<bool> WaitUntilHealthyAsync(bool mayCrash, CancellationToken cancellationToken)
    {
        var process = _process!;
        var crashed = false;
        await Eventually.WaitAsync(
            async () =>
            {
                if (process.HasExited)
                {
                    // Exited: let the rest of its output arrive before reading it.
                    await process.WaitForExitAsync(TimeSpan.FromSeconds(10), cancellationToken);
                    if (mayCrash && process.OutputLines.Any(l => l.StartsWith(CrashPoints.CrashLinePrefix, StringComparison.Ordinal)))
                    {
                        crashed = true;
                        return true;
                    }

                    throw new InvalidOperationException(
                        $"host {Name} (pid {process.Id}) exited with code {process.ExitCode} while starting. Output:\n{process.Output}");
                }

                return await HttpProbe.AnswersAsync(_probe, "/api/health", cancellationToken);
            },
            StartTimeout,
            $"host {Name} (pid {process.Id}) to answer /api/health",
            cancellationToken);
        return !crashed;
    }

    /// <summary>The host built in the configuration this test project was built in (the project reference builds it).</summary>
    private static string FindHostDll()
    {
        var configuration = typeof(HostProcess).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration ?? "Debug";
        var dll = Path.Combine(RepositoryRoot.Find(), "src", "Serverless.LocalHost", "bin", configuration, "net10.0", "Serverless.LocalHost.dll");
        if (!File.Exists(dll))
        {
            throw new InvalidOperationException($"The host is not built: '{dll}' does not exist. Build tests/Serverless.Crash.Tests (it builds the host).");
        }

        return dll;
    }
}
