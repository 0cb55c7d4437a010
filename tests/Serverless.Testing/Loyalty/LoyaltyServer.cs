using System.Net.Http.Json;
using System.Text.Json;
using Xunit;

namespace Serverless.Testing;

/// <summary>
/// The loyalty participant (<c>src/loyalty/server.js</c>) as a real child process: <c>node</c> on a free loopback port,
/// with its journal in a fresh temporary folder. It can be killed abruptly (SIGKILL) and started again on the same folder
/// (and the same port when it is still free). Disposing kills the process and deletes the folder.
/// </summary>
public sealed class LoyaltyServer : ServiceProcess
{
    private readonly IReadOnlyList<string> _previousKeys;

    private LoyaltyServer(string dataDirectory, int port, string signingKey, IReadOnlyList<string> previousKeys)
        : base("loyalty", port)
    {
        DataDirectory = dataDirectory;
        SigningKey = signingKey;
        _previousKeys = previousKeys;
        Client = NewClient(BaseUrl);
    }

    /// <summary><c>src/loyalty/server.js</c> in this checkout.</summary>
    public static string ScriptPath => Path.Combine(RepositoryRoot.Find(), "src", "loyalty", "server.js");

    /// <summary>A client of the service (base address <see cref="ServiceProcess.BaseUrl"/>, 30 s timeout); replaced if a restart changes the port.</summary>
    public HttpClient Client { get; private set; }

    /// <summary>The service's <c>PARTICIPANT_LOYALTY_SIGNING_KEY</c>.</summary>
    public string SigningKey { get; }

    /// <summary>The service's <c>LOYALTY_DATA_DIR</c>.</summary>
    public string DataDirectory { get; }

    /// <summary>The journal file in <see cref="DataDirectory"/>.</summary>
    public string JournalPath => Path.Combine(DataDirectory, "journal.jsonl");

    /// <summary>Starts the service on a free port with a fresh data folder and waits until <c>/health</c> answers.</summary>
    /// <exception cref="InvalidOperationException">The process ended while starting; the message holds its output.</exception>
    /// <exception cref="TimeoutException">It did not answer within the start timeout; the message holds its output.</exception>
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

    protected override string ReadyPath => "/health";

    protected override void OnPortChanged()
    {
        Client.Dispose();
        Client = NewClient(BaseUrl);
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
        (Process ?? throw new InvalidOperationException("loyalty has not started.")).WaitForOutputAsync(text, TimeSpan.FromSeconds(30));

    /// <summary>How many lines the journal holds now: a command that changes nothing adds none.</summary>
    public int JournalLines() => File.Exists(JournalPath) ? File.ReadAllLines(JournalPath).Count(line => line.Length > 0) : 0;

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

    private static HttpClient NewClient(Uri baseUrl) => new() { BaseAddress = baseUrl, Timeout = TimeSpan.FromSeconds(30) };

    protected override ChildProcess Start() => StartProcess(
        new Dictionary<string, string?>
        {
            ["PARTICIPANT_LOYALTY_SIGNING_KEY"] = SigningKey,
            ["PARTICIPANT_LOYALTY_SIGNING_KEYS_PREVIOUS"] = _previousKeys.Count > 0 ? string.Join(',', _previousKeys) : null,
            ["LOYALTY_DATA_DIR"] = DataDirectory,
        },
        "--port",
        Port.ToString(System.Globalization.CultureInfo.InvariantCulture));

}
