using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Azure.Data.Tables;
using Azure.Storage.Queues;

namespace Serverless.Testing;

/// <summary>
/// A private Azurite (blob, queue and table emulator) on free loopback ports, run from the
/// repository's pinned <c>node_modules/.bin/azurite</c>.
/// </summary>
/// <remarks>
/// Always started with <c>--disableTelemetry</c>, bound to 127.0.0.1, with <c>--loose</c> and
/// <c>--skipApiVersionCheck</c> so newer SDKs are accepted. In memory by default; with
/// <see cref="AzuriteOptions.Location"/> its files live in that folder, and
/// <see cref="StopAsync"/> then <see cref="StartAgainAsync"/> brings the same data back on the
/// same ports (a storage outage, as the application sees it). Disposing stops it.
/// </remarks>
public sealed class AzuriteInstance : IAsyncDisposable
{
    /// <summary>The emulator's fixed account name.</summary>
    public const string AccountName = "devstoreaccount1";

    /// <summary>The emulator's well-known, public account key.</summary>
    public const string AccountKey =
        "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

    private const int MaxPortAttempts = 3;

    private readonly AzuriteOptions _options;
    private readonly string _executable;
    private readonly SemaphoreSlim _lifecycle = new(1, 1);
    private ChildProcess? _process;
    private bool _disposed;

    private AzuriteInstance(AzuriteOptions options, string executable, int blobPort, int queuePort, int tablePort)
    {
        _options = options;
        _executable = executable;
        BlobPort = blobPort;
        QueuePort = queuePort;
        TablePort = tablePort;
        ConnectionString =
            $"DefaultEndpointsProtocol=http;AccountName={AccountName};AccountKey={AccountKey};" +
            $"BlobEndpoint={Endpoint(blobPort)};QueueEndpoint={Endpoint(queuePort)};TableEndpoint={Endpoint(tablePort)};";
    }

    /// <summary>The blob endpoint's port on 127.0.0.1.</summary>
    public int BlobPort { get; }

    /// <summary>The queue endpoint's port on 127.0.0.1.</summary>
    public int QueuePort { get; }

    /// <summary>The table endpoint's port on 127.0.0.1.</summary>
    public int TablePort { get; }

    /// <summary>
    /// A storage connection string naming all three endpoints explicitly; it stays valid across
    /// <see cref="StopAsync"/> and <see cref="StartAgainAsync"/>.
    /// </summary>
    public string ConnectionString { get; }

    /// <summary>Azurite's folder in persistent mode; null when it runs in memory.</summary>
    public string? Location => _options.Location;

    /// <summary>Whether the Azurite process is running.</summary>
    public bool IsRunning => _process is { HasExited: false };

    /// <summary>Azurite's recent console output (startup lines and errors; access logs are off).</summary>
    public string Output => _process?.Output ?? "";

    /// <summary>
    /// Starts Azurite on three free loopback ports and returns once all three endpoints accept
    /// connections.
    /// </summary>
    /// <exception cref="InvalidOperationException">
    /// Azurite is not installed (run <c>npm ci</c>), or it did not come up within
    /// <see cref="AzuriteOptions.StartTimeout"/>; the message holds its output.
    /// </exception>
    public static async Task<AzuriteInstance> StartAsync(AzuriteOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new AzuriteOptions();
        var root = RepositoryRoot.Find();
        var executable = Path.Combine(root, "node_modules", ".bin", "azurite");
        if (!File.Exists(executable))
        {
            throw new InvalidOperationException(
                $"Azurite is not installed: '{executable}' does not exist. Run `npm ci` in '{root}' " +
                "(./test.sh does it for you); the tests need the Azurite version pinned in package-lock.json.");
        }

        if (options.Location is not null)
        {
            Directory.CreateDirectory(options.Location);
        }

        for (var attempt = 1; ; attempt++)
        {
            var instance = new AzuriteInstance(options, executable, FreePort.Get(), FreePort.Get(), FreePort.Get());
            try
            {
                await instance.LaunchAsync(cancellationToken);
                return instance;
            }
            catch (AzuriteStartException exception) when (exception.PortTaken && attempt < MaxPortAttempts)
            {
                // Another process took one of the ports between FreePort.Get and Azurite's bind.
                await instance.DisposeAsync();
            }
            catch
            {
                await instance.DisposeAsync();
                throw;
            }
        }
    }

    /// <summary>A client for the queue service.</summary>
    public QueueServiceClient CreateQueueServiceClient() => new(ConnectionString);

    /// <summary>A client for the table service.</summary>
    public TableServiceClient CreateTableServiceClient() => new(ConnectionString);

    /// <summary>
    /// Stops Azurite: SIGTERM (it closes its servers and saves its databases), then SIGKILL to its
    /// whole process tree if it has not ended within <see cref="AzuriteOptions.StopTimeout"/>.
    /// Returns once the process is gone; its ports then refuse connections. Does nothing if it is
    /// not running.
    /// </summary>
    public async Task StopAsync(CancellationToken cancellationToken = default)
    {
        await _lifecycle.WaitAsync(cancellationToken);
        try
        {
            if (_process is not null)
            {
                await _process.StopAsync(_options.StopTimeout, cancellationToken);
            }
        }
        finally
        {
            _lifecycle.Release();
        }
    }

    /// <summary>
    /// Kills Azurite at once (SIGKILL to its process tree), as in a crash, and waits for it to end.
    /// In persistent mode the last few seconds of writes may be lost: Azurite saves every 5 s.
    /// </summary>
    public async Task KillAsync(CancellationToken cancellationToken = default)
    {
        await _lifecycle.WaitAsync(cancellationToken);
        try
        {
            if (_process is not null)
            {
                await _process.KillAndWaitAsync(TimeSpan.FromSeconds(10), cancellationToken);
            }
        }
        finally
        {
            _lifecycle.Release();
        }
    }

    /// <summary>
    /// Starts Azurite again after <see cref="StopAsync"/> or <see cref="KillAsync"/>, on the same
    /// ports and (in persistent mode) with the same data, so <see cref="ConnectionString"/> keeps
    /// working. In memory mode it comes back empty.
    /// </summary>
    /// <exception cref="InvalidOperationException">It is still running, or it did not come up.</exception>
    public async Task StartAgainAsync(CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        await _lifecycle.WaitAsync(cancellationToken);
        try
        {
            if (IsRunning)
            {
                throw new InvalidOperationException("Azurite is still running; stop it before starting it again.");
            }

            await LaunchCoreAsync(cancellationToken);
        }
        finally
        {
            _lifecycle.Release();
        }
    }

    /// <summary>Stops Azurite (see <see cref="StopAsync"/>).</summary>
    public async ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        await StopAsync();
        if (_process is not null)
        {
            await _process.DisposeAsync();
        }

        _lifecycle.Dispose();
    }

    /// <inheritdoc />
    public override string ToString() =>
        $"Azurite on 127.0.0.1 (blob {BlobPort}, queue {QueuePort}, table {TablePort}, {Location ?? "in memory"})";

    private static string Endpoint(int port) => $"http://127.0.0.1:{port}/{AccountName}";

    private async Task LaunchAsync(CancellationToken cancellationToken)
    {
        await _lifecycle.WaitAsync(cancellationToken);
        try
        {
            await LaunchCoreAsync(cancellationToken);
        }
        finally
        {
            _lifecycle.Release();
        }
    }

    private async Task LaunchCoreAsync(CancellationToken cancellationToken)
    {
        if (_process is not null)
        {
            await _process.DisposeAsync();
            _process = null;
        }

        List<string> arguments =
        [
            "--silent",
            "--disableTelemetry",
            "--skipApiVersionCheck",
            "--loose",
            "--blobHost", "127.0.0.1", "--blobPort", BlobPort.ToString(),
            "--queueHost", "127.0.0.1", "--queuePort", QueuePort.ToString(),
            "--tableHost", "127.0.0.1", "--tablePort", TablePort.ToString(),
        ];
        if (_options.Location is null)
        {
            arguments.Add("--inMemoryPersistence");
        }
        else
        {
            arguments.AddRange(["--location", _options.Location]);
        }

        if (_options.DebugLogPath is not null)
        {
            arguments.AddRange(["--debug", _options.DebugLogPath]);
        }

        // In memory Azurite writes nothing, but keep its working folder out of the repository anyway.
        var workingDirectory = _options.Location ?? Path.GetTempPath();
        _process = ChildProcess.Start(_executable, arguments, workingDirectory);
        await WaitUntilListeningAsync(_process, cancellationToken);
    }

    private async Task WaitUntilListeningAsync(ChildProcess process, CancellationToken cancellationToken)
    {
        var stopwatch = Stopwatch.StartNew();
        var pending = new HashSet<int> { BlobPort, QueuePort, TablePort };
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (process.HasExited)
            {
                await process.WaitForExitAsync(TimeSpan.FromSeconds(2), cancellationToken);
                var output = process.Output;
                throw new AzuriteStartException(
                    $"Azurite exited with code {process.ExitCode} before listening ({this}). Output:\n{output}",
                    portTaken: output.Contains("EADDRINUSE", StringComparison.Ordinal));
            }

            foreach (var port in pending.ToArray())
            {
                if (await AcceptsConnectionsAsync(port, cancellationToken))
                {
                    pending.Remove(port);
                }
            }

            // A port answering could belong to someone else; Azurite's own line says all three servers are up
            // (it starts them in order, table last).
            if (pending.Count == 0 && !process.HasExited && process.OutputLines.Any(IsTableListeningLine))
            {
                return;
            }

            if (stopwatch.Elapsed > _options.StartTimeout)
            {
                await process.KillAndWaitAsync(TimeSpan.FromSeconds(10), CancellationToken.None);
                throw new AzuriteStartException(
                    $"Azurite did not accept connections on port(s) {string.Join(", ", pending)} within " +
                    $"{_options.StartTimeout.TotalSeconds:0.#} s ({this}); it was killed. Output:\n{process.Output}",
                    portTaken: false);
            }

            await Task.Delay(Eventually.PollInterval, cancellationToken);
        }
    }

    private bool IsTableListeningLine(string line) =>
        line.Contains("Table service is successfully listening", StringComparison.Ordinal) &&
        line.Contains($":{TablePort}", StringComparison.Ordinal);

    private static async Task<bool> AcceptsConnectionsAsync(int port, CancellationToken cancellationToken)
    {
        using var client = new TcpClient();
        using var attempt = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        attempt.CancelAfter(TimeSpan.FromSeconds(1));
        try
        {
            await client.ConnectAsync(IPAddress.Loopback, port, attempt.Token);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return false;
        }
    }

    private sealed class AzuriteStartException(string message, bool portTaken) : InvalidOperationException(message)
    {
        public bool PortTaken { get; } = portTaken;
    }
}
