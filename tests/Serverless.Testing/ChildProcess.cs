using System.Collections.Concurrent;
using System.Diagnostics;

namespace Serverless.Testing;

/// <summary>
/// A process a test starts (Azurite, or the host for a crash test): its stdout and stderr are kept
/// in a bounded buffer of recent lines, and it can be killed abruptly together with everything it
/// started.
/// </summary>
/// <remarks>
/// Every child still running when the test process exits normally is killed then, so a failed
/// test does not leave servers behind. Disposing kills the child if it is still running.
/// </remarks>
public sealed class ChildProcess : IAsyncDisposable
{
    /// <summary>How many recent output lines are kept unless the caller says otherwise.</summary>
    public const int DefaultMaxOutputLines = 2000;

    // After the process is gone its pipes can still hold output; this bounds the wait for it
    // (a grandchild that inherited the pipes would otherwise hold us forever).
    private static readonly TimeSpan OutputDrainTimeout = TimeSpan.FromSeconds(2);
    private static readonly ConcurrentDictionary<ChildProcess, byte> Running = new();

    private readonly Process _process;
    private readonly Queue<string> _lines = new();
    private readonly List<(Func<string, bool> Match, TaskCompletionSource<string> Found)> _waiters = [];
    private readonly Lock _gate = new();
    private readonly int _maxOutputLines;
    private readonly TaskCompletionSource _exited = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _droppedLines;

    static ChildProcess()
    {
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            foreach (var child in Running.Keys)
            {
                child.Kill();
            }
        };
    }

    private ChildProcess(Process process, string name, int maxOutputLines)
    {
        _process = process;
        Name = name;
        _maxOutputLines = maxOutputLines;
    }

    /// <summary>A short name for messages: the file name that was started.</summary>
    public string Name { get; }

    /// <summary>The operating system's process id.</summary>
    public int Id => _process.Id;

    /// <summary>Whether the process has ended.</summary>
    public bool HasExited => _exited.Task.IsCompleted;

    /// <summary>The exit code once ended (137 after <see cref="Kill"/>, 128 + signal on Unix); null while running.</summary>
    public int? ExitCode => HasExited ? _process.ExitCode : null;

    /// <summary>The most recent output lines, stdout and stderr interleaved in arrival order.</summary>
    public IReadOnlyList<string> OutputLines
    {
        get
        {
            lock (_gate)
            {
                return [.. _lines];
            }
        }
    }

    /// <summary>The most recent output as one text, for assertion and exception messages.</summary>
    public string Output
    {
        get
        {
            lock (_gate)
            {
                var dropped = _droppedLines > 0 ? $"[{_droppedLines} earlier lines dropped]\n" : "";
                return dropped + string.Join('\n', _lines);
            }
        }
    }

    /// <summary>Starts <paramref name="fileName"/> with the given arguments, capturing its output.</summary>
    /// <param name="fileName">The executable; a script with a shebang line works too.</param>
    /// <param name="arguments">The arguments, each passed as is (no shell quoting involved).</param>
    /// <param name="workingDirectory">The working directory; default: this process's.</param>
    /// <param name="environment">Variables to set (a null value removes the variable) on top of this process's environment.</param>
    /// <param name="maxOutputLines">How many recent output lines to keep; default <see cref="DefaultMaxOutputLines"/>.</param>
    public static ChildProcess Start(
        string fileName,
        IEnumerable<string> arguments,
        string? workingDirectory = null,
        IReadOnlyDictionary<string, string?>? environment = null,
        int maxOutputLines = DefaultMaxOutputLines)
    {
        ArgumentException.ThrowIfNullOrEmpty(fileName);
        ArgumentNullException.ThrowIfNull(arguments);

        var startInfo = new ProcessStartInfo(fileName, arguments);
        if (workingDirectory is not null)
        {
            startInfo.WorkingDirectory = workingDirectory;
        }

        foreach (var (key, value) in environment ?? new Dictionary<string, string?>())
        {
            startInfo.Environment[key] = value;
        }

        return Start(startInfo, maxOutputLines);
    }

    /// <summary>
    /// Starts the process <paramref name="startInfo"/> describes. Output redirection is switched on
    /// here; shell execution is switched off.
    /// </summary>
    /// <param name="startInfo">What to start.</param>
    /// <param name="maxOutputLines">How many recent output lines to keep; default <see cref="DefaultMaxOutputLines"/>.</param>
    public static ChildProcess Start(ProcessStartInfo startInfo, int maxOutputLines = DefaultMaxOutputLines)
    {
        ArgumentNullException.ThrowIfNull(startInfo);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxOutputLines);

        startInfo.UseShellExecute = false;
        startInfo.RedirectStandardOutput = true;
        startInfo.RedirectStandardError = true;

        var process = new Process { StartInfo = startInfo, EnableRaisingEvents = true };
        var child = new ChildProcess(process, Path.GetFileName(startInfo.FileName), maxOutputLines);
        process.OutputDataReceived += (_, e) => child.OnLine(e.Data);
        process.ErrorDataReceived += (_, e) => child.OnLine(e.Data);
        process.Exited += (_, _) => child.OnExited();

        try
        {
            process.Start();
        }
        catch (Exception exception)
        {
            process.Dispose();
            throw new InvalidOperationException(
                $"Could not start '{startInfo.FileName}' in '{startInfo.WorkingDirectory}': {exception.Message}", exception);
        }

        Running.TryAdd(child, 0);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return child;
    }

    /// <summary>
    /// Kills the process and every process it started, at once (SIGKILL on Unix): nothing gets a
    /// chance to clean up, as in a crash. Does nothing if it has already ended.
    /// </summary>
    public void Kill()
    {
        try
        {
            _process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
            // Already ended (or never started): nothing to kill.
        }
    }

    /// <summary>
    /// Asks the process to shut down (SIGTERM to the process itself, not its children), as a
    /// service manager would. Does nothing if it has already ended.
    /// </summary>
    public async Task TerminateAsync(CancellationToken cancellationToken = default)
    {
        if (HasExited)
        {
            return;
        }

        // .NET has no API to send a signal other than SIGKILL; the shell's kill builtin is everywhere.
        using var kill = Process.Start(new ProcessStartInfo("/bin/sh", ["-c", "kill -TERM \"$1\" 2>/dev/null || true", "sh", Id.ToString()])
        {
            UseShellExecute = false,
        }) ?? throw new InvalidOperationException("Could not start /bin/sh to send SIGTERM.");
        await kill.WaitForExitAsync(cancellationToken);
    }

    /// <summary>
    /// Stops the process gracefully if it can: SIGTERM, then up to <paramref name="grace"/> for it
    /// to end, then SIGKILL to the whole tree. Returns once it has ended.
    /// </summary>
    /// <exception cref="TimeoutException">It did not end even after SIGKILL.</exception>
    public async Task StopAsync(TimeSpan grace, CancellationToken cancellationToken = default)
    {
        await TerminateAsync(cancellationToken);
        if (!await WaitForExitAsync(grace, cancellationToken))
        {
            await KillAndWaitAsync(TimeSpan.FromSeconds(10), cancellationToken);
        }
    }

    /// <summary>Waits up to <paramref name="timeout"/> for the process to end.</summary>
    /// <returns>True if it ended (its remaining output then is in the buffer); false on timeout.</returns>
    public async Task<bool> WaitForExitAsync(TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        try
        {
            await _exited.Task.WaitAsync(timeout, cancellationToken);
        }
        catch (TimeoutException)
        {
            return false;
        }

        using var drain = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        drain.CancelAfter(OutputDrainTimeout);
        try
        {
            await _process.WaitForExitAsync(drain.Token);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            // Something still holds the pipes open; what arrived so far is what we have.
        }

        return true;
    }

    /// <summary>Kills the process tree and waits up to <paramref name="timeout"/> for the process to end.</summary>
    /// <exception cref="TimeoutException">It was still running at the deadline.</exception>
    public async Task KillAndWaitAsync(TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        Kill();
        if (!await WaitForExitAsync(timeout, cancellationToken))
        {
            throw new TimeoutException($"{Name} (pid {Id}) was still running {timeout.TotalSeconds:0.#} s after SIGKILL.");
        }
    }

    /// <summary>
    /// Waits until a line containing <paramref name="text"/> has been written (lines already in
    /// the buffer count) and returns that line.
    /// </summary>
    /// <exception cref="TimeoutException">No such line at the deadline; the message holds the recent output.</exception>
    /// <exception cref="InvalidOperationException">The process ended without writing such a line.</exception>
    public async Task<string> WaitForOutputAsync(string text, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(text);
        var found = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        (Func<string, bool>, TaskCompletionSource<string>) waiter = (line => line.Contains(text, StringComparison.Ordinal), found);
        lock (_gate)
        {
            var match = _lines.FirstOrDefault(line => line.Contains(text, StringComparison.Ordinal));
            if (match is not null)
            {
                return match;
            }

            _waiters.Add(waiter);
        }

        try
        {
            var exitedWithoutIt = WaitForExitAsync(Timeout.InfiniteTimeSpan, cancellationToken);
            var first = await Task.WhenAny(found.Task, exitedWithoutIt).WaitAsync(timeout, cancellationToken);
            if (first == found.Task || found.Task.IsCompleted)
            {
                return await found.Task;
            }

            throw new InvalidOperationException(
                $"{Name} (pid {Id}) exited with code {ExitCode} without writing '{text}'. Output:\n{Output}");
        }
        catch (TimeoutException)
        {
            throw new TimeoutException(
                $"{Name} (pid {Id}) did not write '{text}' within {timeout.TotalSeconds:0.#} s. Output:\n{Output}");
        }
        finally
        {
            lock (_gate)
            {
                _waiters.Remove(waiter);
            }
        }
    }

    /// <summary>Kills the process tree if it is still running, and releases it.</summary>
    public async ValueTask DisposeAsync()
    {
        if (!HasExited)
        {
            Kill();
            await WaitForExitAsync(TimeSpan.FromSeconds(10));
        }

        Running.TryRemove(this, out _);
        _process.Dispose();
    }

    /// <inheritdoc />
    public override string ToString() => $"{Name} (pid {Id})";

    private void OnLine(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_gate)
        {
            _lines.Enqueue(line);
            if (_lines.Count > _maxOutputLines)
            {
                _lines.Dequeue();
                _droppedLines++;
            }

            foreach (var (match, found) in _waiters)
            {
                if (match(line))
                {
                    found.TrySetResult(line);
                }
            }
        }
    }

    private void OnExited()
    {
        Running.TryRemove(this, out _);
        _exited.TrySetResult();
    }
}
