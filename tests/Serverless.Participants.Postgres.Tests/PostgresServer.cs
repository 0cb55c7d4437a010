using System.Collections.Concurrent;
using System.Diagnostics;
using Npgsql;

namespace Serverless.Participants.Postgres.Tests;

/// <summary>
/// The PostgreSQL server of the test run: the one <c>TEST_POSTGRES_CONNECTION</c> names (its user needs CREATEDB),
/// or else a throwaway cluster that <c>scripts/postgres.sh</c> starts and that is stopped and deleted at the end.
/// Every test class gets a database of its own.
/// </summary>
public sealed class PostgresServer : IAsyncLifetime
{
    public const string ConnectionVariable = "TEST_POSTGRES_CONNECTION";

    private static readonly TimeSpan ScriptTimeout = TimeSpan.FromMinutes(5);
    private readonly ConcurrentDictionary<string, Lazy<Task<string>>> _databases = new();
    private string? _clusterDirectory;

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

        // Directly under the temp folder, not in a private subfolder: the cluster runs as the postgres user.
        _clusterDirectory = Path.Combine(Path.GetTempPath(), $"serverless-pg-tests-{Guid.NewGuid():N}");
        ConnectionString = await StartClusterAsync(_clusterDirectory);
    }

    public async Task DisposeAsync()
    {
        NpgsqlConnection.ClearAllPools();
        if (_clusterDirectory is not null)
        {
            await RunScriptAsync("stop", _clusterDirectory);
            Directory.Delete(_clusterDirectory, recursive: true);
            return;
        }

        foreach (var database in _databases.Values.Where(d => d.IsValueCreated && d.Value.IsCompletedSuccessfully))
        {
            await DropDatabaseAsync(new NpgsqlConnectionStringBuilder(await database.Value).Database!);
        }
    }

    /// <summary>The connection string of the database of <paramref name="owner"/> (a test class), created on first use.</summary>
    public Task<string> DatabaseAsync(string owner) =>
        _databases.GetOrAdd(owner, _ => new Lazy<Task<string>>(() => CreateDatabaseAsync(owner))).Value;

    /// <summary>Starts a cluster with <c>scripts/postgres.sh start</c> and answers the connection string it prints last.</summary>
    public static async Task<string> StartClusterAsync(string directory)
    {
        var output = await RunScriptAsync("start", directory);
        var last = output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).LastOrDefault();
        if (last is null || !last.StartsWith("Host=", StringComparison.Ordinal))
        {
            throw new InvalidOperationException($"scripts/postgres.sh start printed no connection string:\n{output}");
        }

        return last;
    }

    /// <summary>Runs <c>scripts/postgres.sh</c>; throws with its output when it fails. Answers its stdout.</summary>
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
            throw new TimeoutException($"scripts/postgres.sh {string.Join(' ', arguments)} took longer than {ScriptTimeout}");
        }

        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException(
                $"scripts/postgres.sh {string.Join(' ', arguments)} failed with exit code {process.ExitCode}:\n{await stderr}\n{await stdout}");
        }

        return await stdout;
    }

    private async Task<string> CreateDatabaseAsync(string owner)
    {
        var letters = new string([.. owner.ToLowerInvariant().Where(char.IsAsciiLetterOrDigit).Take(20)]);
        var name = $"t_{letters}_{Guid.NewGuid():N}";
        await using (var connection = new NpgsqlConnection(ConnectionString))
        {
            await connection.OpenAsync();
            await using var create = new NpgsqlCommand($"CREATE DATABASE \"{name}\"", connection);
            await create.ExecuteNonQueryAsync();
        }

        return new NpgsqlConnectionStringBuilder(ConnectionString) { Database = name }.ConnectionString;
    }

    private async Task DropDatabaseAsync(string name)
    {
        // A test that failed may have left prepared transactions, which keep a database from being dropped.
        await using var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(ConnectionString) { Database = name }.ConnectionString);
        await connection.OpenAsync();
        await using (var list = new NpgsqlCommand("SELECT gid FROM pg_prepared_xacts WHERE database = current_database()", connection))
        {
            var gids = new List<string>();
            await using (var reader = await list.ExecuteReaderAsync())
            {
                while (await reader.ReadAsync())
                {
                    gids.Add(reader.GetString(0));
                }
            }

            foreach (var gid in gids)
            {
                await using var rollback = new NpgsqlCommand($"ROLLBACK PREPARED '{gid.Replace("'", "''", StringComparison.Ordinal)}'", connection);
                await rollback.ExecuteNonQueryAsync();
            }
        }

        await connection.CloseAsync();
        NpgsqlConnection.ClearAllPools();
        await using var admin = new NpgsqlConnection(ConnectionString);
        await admin.OpenAsync();
        await using var drop = new NpgsqlCommand($"DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)", admin);
        await drop.ExecuteNonQueryAsync();
    }

    private static string FindScript()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            var script = Path.Combine(directory.FullName, "scripts", "postgres.sh");
            if (File.Exists(script))
            {
                return script;
            }
        }

        throw new InvalidOperationException($"scripts/postgres.sh not found above {AppContext.BaseDirectory}");
    }
}

/// <summary>The tests that need the server; they run one class at a time, each class in its own database.</summary>
[CollectionDefinition(Name)]
public sealed class PostgresCollection : ICollectionFixture<PostgresServer>
{
    public const string Name = "postgres";
}
