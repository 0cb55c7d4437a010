using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using MySqlConnector;

namespace Serverless.Participants.MySql.Tests;

/// <summary>
/// The MySQL server of the test run: the one <c>TEST_MYSQL_CONNECTION</c> names (its user may create databases), or else
/// a throwaway MariaDB that <c>scripts/mariadb.sh</c> starts and that is stopped and deleted at the end. Every test class
/// gets a database of its own.
/// </summary>
public sealed class MariaDbServer : IAsyncLifetime
{
    public const string ConnectionVariable = "TEST_MYSQL_CONNECTION";

    private static readonly TimeSpan ScriptTimeout = TimeSpan.FromMinutes(10);
    private readonly ConcurrentDictionary<string, Lazy<Task<string>>> _databases = new();
    private string? _serverDirectory;

    /// <summary>The connection string of the server's initial database.</summary>
    public string ConnectionString { get; private set; } = string.Empty;

    public async Task InitializeAsync()
    {
        var given = Environment.GetEnvironmentVariable(ConnectionVariable);
        if (!string.IsNullOrWhiteSpace(given))
        {
            ConnectionString = given;
            return;
        }

        // Directly under the temp folder, not in a private subfolder: the server runs as the mysql user.
        _serverDirectory = NewDirectory();
        ConnectionString = await StartServerAsync(_serverDirectory);
    }

    public async Task DisposeAsync()
    {
        await MySqlConnection.ClearAllPoolsAsync();
        if (_serverDirectory is not null)
        {
            await RunScriptAsync("stop", _serverDirectory);
            Directory.Delete(_serverDirectory, recursive: true);
            return;
        }

        foreach (var database in _databases.Values.Where(d => d.IsValueCreated && d.Value.IsCompletedSuccessfully))
        {
            await using var connection = new MySqlConnection(ConnectionString);
            await connection.OpenAsync();
            await using var drop = new MySqlCommand($"DROP DATABASE IF EXISTS `{new MySqlConnectionStringBuilder(await database.Value).Database}`", connection);
            await drop.ExecuteNonQueryAsync();
        }
    }

    /// <summary>A fresh directory for a server of its own, short enough for its Unix socket.</summary>
    public static string NewDirectory() => Path.Combine(Path.GetTempPath(), $"serverless-mdb-{Guid.NewGuid():N}"[..30]);

    /// <summary>The connection string of the database of <paramref name="owner"/> (a test class), created on first use.</summary>
    public Task<string> DatabaseAsync(string owner) =>
        _databases.GetOrAdd(owner, _ => new Lazy<Task<string>>(() => CreateDatabaseAsync(owner))).Value;

    /// <summary>Starts a server with <c>scripts/mariadb.sh start</c> and answers the connection string it prints last.</summary>
    public static async Task<string> StartServerAsync(string directory)
    {
        var output = await RunScriptAsync("start", directory);
        var last = output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).LastOrDefault();
        if (last is null || !last.StartsWith("Server=", StringComparison.Ordinal))
        {
            throw new InvalidOperationException($"scripts/mariadb.sh start printed no connection string:\n{output}");
        }

        return last;
    }

    /// <summary>Runs <c>scripts/mariadb.sh</c>; throws with its output when it fails. Answers its stdout.</summary>
    public static async Task<string> RunScriptAsync(params string[] arguments)
    {
        var start = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(FindScript());
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException("could not start bash");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(ScriptTimeout);
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"scripts/mariadb.sh {string.Join(' ', arguments)} took longer than {ScriptTimeout}");
        }

        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException(
                $"scripts/mariadb.sh {string.Join(' ', arguments)} failed with exit code {process.ExitCode}:\n{await stderr}\n{await stdout}");
        }

        return await stdout;
    }

    /// <summary>Every prepared XA branch on the server (<c>XA RECOVER</c>), as "formatID:gtrid:bqual".</summary>
    public static async Task<List<string>> PreparedXidsAsync(string connectionString)
    {
        await using var connection = new MySqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new MySqlCommand("XA RECOVER", connection);
        await using var reader = await command.ExecuteReaderAsync();
        var xids = new List<string>();
        while (await reader.ReadAsync())
        {
            var gtridLength = Convert.ToInt32(reader.GetValue(1), CultureInfo.InvariantCulture);
            var data = reader.GetValue(3) is byte[] bytes ? Encoding.ASCII.GetString(bytes) : Convert.ToString(reader.GetValue(3), CultureInfo.InvariantCulture)!;
            xids.Add($"{reader.GetValue(0)}:{data[..gtridLength]}:{data[gtridLength..]}");
        }

        return xids;
    }

    private async Task<string> CreateDatabaseAsync(string owner)
    {
        var letters = new string([.. owner.ToLowerInvariant().Where(char.IsAsciiLetterOrDigit).Take(20)]);
        var name = $"t_{letters}_{Guid.NewGuid():N}";
        await using (var connection = new MySqlConnection(ConnectionString))
        {
            await connection.OpenAsync();
            await using var create = new MySqlCommand($"CREATE DATABASE `{name}`", connection);
            await create.ExecuteNonQueryAsync();
        }

        return new MySqlConnectionStringBuilder(ConnectionString) { Database = name }.ConnectionString;
    }

    private static string FindScript()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            var script = Path.Combine(directory.FullName, "scripts", "mariadb.sh");
            if (File.Exists(script))
            {
                return script;
            }
        }

        throw new InvalidOperationException($"scripts/mariadb.sh not found above {AppContext.BaseDirectory}");
    }
}

/// <summary>The tests that need the server; they run one class at a time, each class in its own database.</summary>
[CollectionDefinition(Name)]
public sealed class MariaDbCollection : ICollectionFixture<MariaDbServer>
{
    public const string Name = "mariadb";
}
