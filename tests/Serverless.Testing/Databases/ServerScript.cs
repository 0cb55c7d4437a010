using System.Diagnostics;

namespace Serverless.Testing;

/// <summary>
/// A database server script of the repository (<c>scripts/postgres.sh</c>, <c>scripts/mariadb.sh</c>): <c>start DIR</c>
/// starts a server whose files live in DIR and prints its connection string as its last line; <c>stop DIR</c> stops it.
/// </summary>
/// <param name="fileName">The script's name under <c>scripts/</c>.</param>
/// <param name="directoryPrefix">How the names of <see cref="NewDirectory"/>'s folders start.</param>
/// <param name="connectionPrefix">How the connection string <c>start</c> prints starts (<c>Host=</c>, <c>Server=</c>).</param>
/// <param name="timeout">How long one run of the script may take before it is killed.</param>
public sealed class ServerScript(string fileName, string directoryPrefix, string connectionPrefix, TimeSpan timeout)
{
    /// <summary>How long a server folder's name is at most: mariadb.sh keeps its Unix socket there, and a socket path is short.</summary>
    public const int DirectoryNameLength = 30;

    /// <summary>The script's name under <c>scripts/</c>.</summary>
    public string FileName { get; } = fileName;

    /// <summary>
    /// A fresh folder for a server of its own, directly under the temp folder (not in a private subfolder: the server runs as
    /// its own OS user) and short enough for a Unix socket inside it.
    /// </summary>
    public string NewDirectory() => Path.Combine(Path.GetTempPath(), $"{directoryPrefix}{Guid.NewGuid():N}"[..DirectoryNameLength]);

    /// <summary>Runs <c>start <paramref name="directory"/></c> and answers the connection string it prints last.</summary>
    /// <exception cref="InvalidOperationException">The script failed or printed no connection string; the message holds its output.</exception>
    /// <exception cref="TimeoutException">The script ran longer than its timeout and was killed.</exception>
    public async Task<string> StartAsync(string directory) => ConnectionStringIn(await RunAsync("start", directory));

    /// <summary>The connection string in the output of <c>start</c>: its last non-blank line, which must look like one.</summary>
    /// <exception cref="InvalidOperationException">The last line is no connection string; the message holds the output.</exception>
    public string ConnectionStringIn(string output)
    {
        var last = output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).LastOrDefault();
        if (last is null || !last.StartsWith(connectionPrefix, StringComparison.Ordinal))
        {
            throw new InvalidOperationException($"scripts/{FileName} start printed no connection string:\n{output}");
        }

        return last;
    }

    /// <summary>Runs the script with <paramref name="arguments"/> and answers its stdout.</summary>
    /// <exception cref="InvalidOperationException">It is missing or exited with an error; the message holds its output.</exception>
    /// <exception cref="TimeoutException">It ran longer than its timeout and was killed.</exception>
    public async Task<string> RunAsync(params string[] arguments)
    {
        var start = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(Find());
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        var command = $"scripts/{FileName} {string.Join(' ', arguments)}";
        using var process = Process.Start(start) ?? throw new InvalidOperationException("could not start bash");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var deadline = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(deadline.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{command} took longer than {timeout}");
        }

        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{command} failed with exit code {process.ExitCode}:\n{await stderr}\n{await stdout}");
        }

        return await stdout;
    }

    private string Find()
    {
        var script = Path.Combine(RepositoryRoot.Find(), "scripts", FileName);
        return File.Exists(script) ? script : throw new InvalidOperationException($"{script} does not exist");
    }
}
