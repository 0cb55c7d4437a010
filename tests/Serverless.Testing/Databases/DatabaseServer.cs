using System.Collections.Concurrent;
using System.Data.Common;
using Xunit;

namespace Serverless.Testing;

/// <summary>
/// A database server of the test run: the one an environment variable names (its user may create databases), or else a
/// throwaway server that a <see cref="ServerScript"/> starts in a fresh folder and that is stopped and deleted at the end.
/// Every owner (a test class) gets a database of its own, created on first use.
/// </summary>
/// <remarks>
/// A server that cannot start fails the fixture, with the script's output; tests never skip for want of a server. On a
/// given server the owners' databases are dropped at the end; a throwaway server goes away with them.
/// </remarks>
public abstract class DatabaseServer : IAsyncLifetime
{
    private readonly ConcurrentDictionary<string, Lazy<Task<string>>> _databases = new();
    private readonly string _connectionVariable;
    private readonly ServerScript _script;
    private string? _serverDirectory;

    /// <param name="connectionVariable">The environment variable that names a server to use instead of starting one.</param>
    /// <param name="script">The script that starts and stops a throwaway server.</param>
    protected DatabaseServer(string connectionVariable, ServerScript script)
    {
        _connectionVariable = connectionVariable;
        _script = script;
    }

    /// <summary>The connection string of the server's initial database.</summary>
    public string ConnectionString { get; private set; } = string.Empty;

    /// <summary>The name of a new database for <paramref name="owner"/>: <c>t_</c>, up to 20 of its letters and digits in lower case, <c>_</c> and a GUID.</summary>
    public static string DatabaseName(string owner)
    {
        var letters = new string([.. owner.ToLowerInvariant().Where(char.IsAsciiLetterOrDigit).Take(20)]);
        return $"t_{letters}_{Guid.NewGuid():N}";
    }

    public async Task InitializeAsync()
    {
        var given = Environment.GetEnvironmentVariable(_connectionVariable);
        if (!string.IsNullOrWhiteSpace(given))
        {
            ConnectionString = given;
            return;
        }

        _serverDirectory = _script.NewDirectory();
        ConnectionString = await _script.StartAsync(_serverDirectory);
    }

    public async Task DisposeAsync()
    {
        await ClearPoolsAsync();
        if (_serverDirectory is not null)
        {
            await _script.RunAsync("stop", _serverDirectory);
            Directory.Delete(_serverDirectory, recursive: true);
            return;
        }

        foreach (var database in _databases.Values.Where(d => d.IsValueCreated && d.Value.IsCompletedSuccessfully))
        {
            await DropDatabaseAsync(await database.Value);
        }
    }

    /// <summary>The connection string of the database of <paramref name="owner"/> (a test class), created on first use.</summary>
    public async Task<string> DatabaseAsync(string owner) =>
        ConnectionStringFor(await _databases.GetOrAdd(owner, _ => new Lazy<Task<string>>(() => CreateDatabaseAsync(owner))).Value);

    /// <summary>The connection string of the server's database <paramref name="database"/>.</summary>
    protected abstract string ConnectionStringFor(string database);

    /// <summary>A new, closed connection to <paramref name="connectionString"/>.</summary>
    protected abstract DbConnection Connect(string connectionString);

    /// <summary><paramref name="name"/> quoted as an identifier of the server's SQL.</summary>
    protected abstract string Quote(string name);

    /// <summary>Closes the pooled connections of this process, so that nothing holds a database that is to go.</summary>
    protected abstract Task ClearPoolsAsync();

    /// <summary>Drops the database <paramref name="name"/> from a server the test run did not start.</summary>
    protected virtual Task DropDatabaseAsync(string name) => ExecuteAsync(ConnectionString, $"DROP DATABASE IF EXISTS {Quote(name)}");

    /// <summary>Runs one statement on a connection of its own.</summary>
    protected async Task ExecuteAsync(string connectionString, string sql)
    {
        await using var connection = Connect(connectionString);
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        await command.ExecuteNonQueryAsync();
    }

    private async Task<string> CreateDatabaseAsync(string owner)
    {
        var name = DatabaseName(owner);
        await ExecuteAsync(ConnectionString, $"CREATE DATABASE {Quote(name)}");
        return name;
    }
}
