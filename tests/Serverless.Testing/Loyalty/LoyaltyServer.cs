using System.Net.Http.Json;
using System.Text.Json;
using Xunit;

namespace Serverless.Testing;

/// <summary>
/// The loyalty participant (<c>src/loyalty/server.js</c>) as a real child process: <c>node</c> on a free loopback port,
/// with its journal in a fresh temporary folder. It can be killed abruptly (SIGKILL) and started again on the same folder
/// (and the same port when it is still free). Disposing kills the process and deletes the folder.
/// </summary>
public sealed class LoyaltyServer : IAsyncDisposable
{
    /// <summary>How long a start may take before it fails with the process's output.</summary>
    public static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(30);

    private readonly HttpClient _probe = new() { Timeout = TimeSpan.FromSeconds(2) };
    private readonly IReadOnlyList<string> _previousKeys;
    private ChildProcess? _process;

    private LoyaltyServer(string dataDirectory, int port, string signingKey, IReadOnlyList<string> previousKeys)
    {
        DataDirectory = dataDirectory;
        Port = port;
        SigningKey = signingKey;
        _previousKeys = previousKeys;
        Client = NewClient(BaseUrl);
    }

    /// <summary><c>src/loyalty/server.js</c> in this checkout.</summary>
    public static string ScriptPath => Path.Combine(RepositoryRoot.Find(), "src", "loyalty", "server.js");

    /// <summary>The loopback port the service listens on.</summary>
    public int Port { get; private set; }

    /// <summary><c>http://127.0.0.1:{Port}</c>.</summary>
    public Uri BaseUrl => new($"http://127.0.0.1:{Port}");

    /// <summary>A client of the service (base address <see cref="BaseUrl"/>, 30 s timeout); replaced if a restart changes the port.</summary>
    public HttpClient Client { get; private set; }

    /// <summary>The service's <c>PARTICIPANT_LOYALTY_SIGNING_KEY</c>.</summary>
    public string SigningKey { get; }

    /// <summary>The service's <c>LOYALTY_DATA_DIR</c>.</summary>
    public string DataDirectory { get; }

    /// <summary>The journal file in <see cref="DataDirectory"/>.</summary>
    public string JournalPath => Path.Combine(DataDirectory, "journal.jsonl");

    /// <summary>The current process's recent output, for assertions and failure messages.</summary>
    public string Output => _process?.Output ?? "";

    /// <summary>Starts the service on a free port with a fresh data folder and waits until <c>/health</c> answers.</summary>
    /// <exception cref="InvalidOperationException">The process ended while starting; the message holds its output.</exception>
    /// <exception cref="TimeoutException">It did not answer within <see cref="StartTimeout"/>; the message holds its output.</exception>
    public static async Task<LoyaltyServer> StartAsync(string signingKey, IReadOnlyList<string>? previousKeys = null, CancellationToken cancellationToken = default)
    {
        var folder = NewDataDirectory();
        var server = new LoyaltyServer(folder, FreePort.Get(), signingKey, previousKeys ?? []);
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

    /// <summary>A fresh, empty temporary folder for a journal.</summary>
    public static string NewDataDirectory()
    {
        var folder = Path.Combine(Path.GetTempPath(), $"serverless-loyalty-{TestNames.UniquePrefix()}");
        Directory.CreateDirectory(folder);
        return folder;
    }

    /// <summary>Starts <c>node server.js</c> with exactly <paramref name="environment"/> on top of this process's, without waiting for anything.</summary>
    public static ChildProcess StartProcess(IReadOnlyDictionary<string, string?> environment, params string[] arguments)
    {
        var settings = new Dictionary<string, string?>
        {
            ["PARTICIPANT_LOYALTY_SIGNING_KEY"] = null,
            ["PARTICIPANT_LOYALTY_SIGNING_KEYS_PREVIOUS"] = null,
            ["LOYALTY_PORT"] = null,
            ["LOYALTY_DATA_DIR"] = null,
        };
        foreach (var (name, value) in environment)
        {
            settings[name] = value;
        }

        return ChildProcess.Start("node", [ScriptPath, .. arguments], Path.GetTempPath(), settings);
    }

    /// <summary>Kills the process at once (SIGKILL: no shutdown of any kind) and waits until it is gone.</summary>
    public async Task KillAsync()
    {
        if (_process is not null)
        {
            await _process.KillAndWaitAsync(TimeSpan.FromSeconds(10));
        }
    }

    /// <summary>
    /// Starts the service again on the same data folder, killing it first if it still runs. It takes the same port when
    /// that is still free, else another one (then <see cref="BaseUrl"/> and <see cref="Client"/> change).
    /// </summary>
    public async Task RestartAsync(CancellationToken cancellationToken = default)
    {
        await KillAsync();
        try
        {
            await StartProcessAsync(cancellationToken);
        }
        catch (InvalidOperationException) when (Output.Contains("address already in use", StringComparison.OrdinalIgnoreCase))
        {
            Port = FreePort.Get();
            Client.Dispose();
            Client = NewClient(BaseUrl);
            await StartProcessAsync(cancellationToken);
        }
    }

    /// <summary>The customer's <c>GET /points/{customer}</c>: (points, pending).</summary>
    public async Task<(long Points, long Pending)> BalanceAsync(string customer, CancellationToken cancellationToken = default)
    {
        var document = await Client.GetFromJsonAsync<JsonElement>($"/points/{Uri.EscapeDataString(customer)}", cancellationToken);
        Assert.Equal(customer, document.GetProperty("customer").GetString());
        return (document.GetProperty("points").GetInt64(), document.GetProperty("pending").GetInt64());
    }

    /// <summary>Waits up to 30 s for the current process to write a line containing <paramref name="text"/>, and returns it.</summary>
    public Task<string> WaitForOutputAsync(string text) =>
        (_process ?? throw new InvalidOperationException("loyalty has not started.")).WaitForOutputAsync(text, TimeSpan.FromSeconds(30));

    /// <summary>How many lines the journal holds now: a command that changes nothing adds none.</summary>
    public int JournalLines() => File.Exists(JournalPath) ? File.ReadAllLines(JournalPath).Count(line => line.Length > 0) : 0;

    /// <summary>Kills the process and deletes the data folder.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_process is not null)
        {
            await _process.DisposeAsync();
        }

        Client.Dispose();
        _probe.Dispose();
        try
        {
            Directory.Delete(DataDirectory, recursive: true);
        }
        catch (DirectoryNotFoundException)
        {
        }
    }

    /// <inheritdoc />
    public override string ToString() => $"loyalty on {BaseUrl} ({_process})";

    private static HttpClient NewClient(Uri baseUrl) => new() { BaseAddress = baseUrl, Timeout = TimeSpan.FromSeconds(30) };

    private async Task StartProcessAsync(CancellationToken cancellationToken)
    {
        if (_process is not null)
        {
            await _process.DisposeAsync();
        }

        var process = StartProcess(
            new Dictionary<string, string?>
            {
                ["PARTICIPANT_LOYALTY_SIGNING_KEY"] = SigningKey,
                ["PARTICIPANT_LOYALTY_SIGNING_KEYS_PREVIOUS"] = _previousKeys.Count > 0 ? string.Join(',', _previousKeys) : null,
                ["LOYALTY_DATA_DIR"] = DataDirectory,
            },
            "--port",
            Port.ToString());
        _process = process;

        var health = new Uri(BaseUrl, "/health");
        try
        {
            await Eventually.WaitAsync(
                async () =>
                {
                    if (process.HasExited)
                    {
                        await process.WaitForExitAsync(TimeSpan.FromSeconds(5), cancellationToken);
                        throw new InvalidOperationException(
                            $"loyalty (pid {process.Id}) exited with code {process.ExitCode} while starting on {BaseUrl}. Output:\n{process.Output}");
                    }

                    return await HttpProbe.AnswersAsync(_probe, health.AbsoluteUri, cancellationToken);
                },
                StartTimeout,
                $"loyalty (pid {process.Id}) to answer {health}",
                cancellationToken);
        }
        catch (TimeoutException timeout)
        {
            throw new TimeoutException($"{timeout.Message} Output:\n{process.Output}", timeout);
        }
    }
}
