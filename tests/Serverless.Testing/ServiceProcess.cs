using System.Net;
using System.Reflection;

namespace Serverless.Testing;

/// <summary>
/// A service the tests run as a real child process on a loopback port (the payment service, loyalty, the shipping app):
/// started and waited for until it answers, killed abruptly (SIGKILL) and started again on the same data.
/// </summary>
public abstract class ServiceProcess : IAsyncDisposable
{
    private readonly HttpClient _probe = new() { Timeout = TimeSpan.FromSeconds(2) };
    private ChildProcess? _process;

    /// <param name="name">What the service is called in messages.</param>
    /// <param name="port">The loopback port it listens on.</param>
    protected ServiceProcess(string name, int port)
    {
        Name = name;
        Port = port;
    }

    /// <summary>What the service is called in messages.</summary>
    public string Name { get; }

    /// <summary>The loopback port the service listens on.</summary>
    public int Port { get; private set; }

    /// <summary><c>http://127.0.0.1:{Port}</c>.</summary>
    public Uri BaseUrl => new($"http://127.0.0.1:{Port}");

    /// <summary>Whether the process is running.</summary>
    public bool IsRunning => _process is { HasExited: false };

    /// <summary>The current process's recent output, for assertions and failure messages.</summary>
    public string Output => _process?.Output ?? "";

    /// <summary>The current process, once started.</summary>
    protected ChildProcess? Process => _process;

    /// <summary>The client that asks whether the service answers (2 s timeout); a service may need a header on it.</summary>
    protected HttpClient Probe => _probe;

    /// <summary>The path asked until the service is ready.</summary>
    protected abstract string ReadyPath { get; }

    /// <summary>How long a start may take before it fails with the process's output.</summary>
    protected virtual TimeSpan StartTimeout => TimeSpan.FromSeconds(30);

    /// <summary>The built <c>src/{project}/bin/{configuration}/net10.0/{project}.dll</c> of the tests' own configuration.</summary>
    /// <exception cref="InvalidOperationException">It is not built.</exception>
    public static string BuiltDll(string project)
    {
        var configuration = typeof(ServiceProcess).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration ?? "Debug";
        var dll = Path.Combine(RepositoryRoot.Find(), "src", project, "bin", configuration, "net10.0", $"{project}.dll");
        return File.Exists(dll)
            ? dll
            : throw new InvalidOperationException($"'{dll}' is not built. Build the solution (or tests/Serverless.Testing, which builds it) in {configuration}.");
    }

    /// <summary>The <c>dotnet</c> that runs the tests (<c>DOTNET_HOST_PATH</c>), else the one on PATH.</summary>
    protected static string Dotnet =>
        Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } path && File.Exists(path) ? path : "dotnet";

    /// <summary>Kills the process at once (SIGKILL: no flush, no shutdown of any kind) and waits until it is gone.</summary>
    public async Task KillAsync()
    {
        if (_process is not null)
        {
            await _process.KillAndWaitAsync(TimeSpan.FromSeconds(10));
        }
    }

    /// <summary>
    /// Starts the service again on the same data, killing it first if it still runs. It takes the same port when that is
    /// still free, else another one (then <see cref="BaseUrl"/> changes, and <see cref="OnPortChanged"/> is called).
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
            OnPortChanged();
            await StartProcessAsync(cancellationToken);
        }
    }

    /// <summary>Kills the process.</summary>
    public virtual async ValueTask DisposeAsync()
    {
        if (_process is not null)
        {
            await _process.DisposeAsync();
        }

        _probe.Dispose();
        GC.SuppressFinalize(this);
    }

    /// <inheritdoc />
    public override string ToString() => $"{Name} on {BaseUrl} ({_process})";

    /// <summary>Starts the service's process, without waiting for anything.</summary>
    protected abstract ChildProcess Start();

    /// <summary>Whether <see cref="ReadyPath"/>'s answer means ready: 2xx unless the service says otherwise.</summary>
    protected virtual bool IsReady(HttpStatusCode status) => (int)status is >= 200 and < 300;

    /// <summary>Called when a restart took another port; a service replaces its clients here.</summary>
    protected virtual void OnPortChanged()
    {
    }

    /// <summary>Starts the process (<see cref="Start"/>) and waits until <see cref="ReadyPath"/> answers as ready.</summary>
    /// <exception cref="InvalidOperationException">The process ended while starting; the message holds its output.</exception>
    /// <exception cref="TimeoutException">It was not ready within <see cref="StartTimeout"/>; the message holds its output.</exception>
    protected async Task StartProcessAsync(CancellationToken cancellationToken = default)
    {
        if (_process is not null)
        {
            await _process.DisposeAsync();
        }

        var process = Start();
        _process = process;
        var ready = new Uri(BaseUrl, ReadyPath).AbsoluteUri;
        try
        {
            await Eventually.WaitAsync(
                async () =>
                {
                    if (process.HasExited)
                    {
                        await process.WaitForExitAsync(TimeSpan.FromSeconds(5), cancellationToken);
                        throw new InvalidOperationException(
                            $"{Name} (pid {process.Id}) exited with code {process.ExitCode} while starting on {BaseUrl}. Output:\n{process.Output}");
                    }

                    return await HttpProbe.AnswersAsync(_probe, ready, IsReady, cancellationToken);
                },
                StartTimeout,
                $"{Name} (pid {process.Id}) to answer {ready}",
                cancellationToken);
        }
        catch (TimeoutException timeout)
        {
            throw new TimeoutException($"{timeout.Message} Output:\n{process.Output}", timeout);
        }
    }
}
