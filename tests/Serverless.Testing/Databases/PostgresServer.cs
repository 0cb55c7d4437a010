using System.Data.Common;
using Npgsql;

namespace Serverless.Testing;

/// <summary>
/// The PostgreSQL server of the test run: the one <c>TEST_POSTGRES_CONNECTION</c> names (its user needs CREATEDB),
/// or else a throwaway cluster that <c>scripts/postgres.sh</c> starts and that is stopped and deleted at the end.
/// Every test class gets a database of its own.
/// </summary>
public sealed class PostgresServer() : DatabaseServer(ConnectionVariable, Script)
{
    public const string ConnectionVariable = "TEST_POSTGRES_CONNECTION";

    private static readonly ServerScript Script = new("postgres.sh", "serverless-pg-", "Host=", TimeSpan.FromMinutes(5));

    /// <summary>Starts a cluster with <c>scripts/postgres.sh start</c> and answers the connection string it prints last.</summary>
    public static Task<string> StartClusterAsync(string directory) => Script.StartAsync(directory);

    /// <summary>Runs <c>scripts/postgres.sh</c>; throws with its output when it fails. Answers its stdout.</summary>
    public static Task<string> RunScriptAsync(params string[] arguments) => Script.RunAsync(arguments);

    /// <summary>The global ids of the transactions PostgreSQL holds prepared in <paramref name="connectionString"/>'s database (<c>pg_prepared_xacts</c>).</summary>
    public static async Task<List<string>> PreparedGidsAsync(string connectionString)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        return await PreparedGidsAsync(connection);
    }

    private static async Task<List<string>> PreparedGidsAsync(NpgsqlConnection connection)
    {
        var gids = new List<string>();
        await using var list = new NpgsqlCommand("SELECT gid FROM pg_prepared_xacts WHERE database = current_database()", connection);
        await using var reader = await list.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            gids.Add(reader.GetString(0));
        }

        return gids;
    }

    protected override string ConnectionStringFor(string database) =>
        new NpgsqlConnectionStringBuilder(ConnectionString) { Database = database }.ConnectionString;

    protected override DbConnection Connect(string connectionString) => new NpgsqlConnection(connectionString);

    protected override string Quote(string name) => $"\"{name}\"";

    protected override Task ClearPoolsAsync()
    {
        NpgsqlConnection.ClearAllPools();
        return Task.CompletedTask;
    }

    protected override async Task DropDatabaseAsync(string name)
    {
        // A test that failed may have left prepared transactions, which keep a database from being dropped.
        await using (var connection = new NpgsqlConnection(ConnectionStringFor(name)))
        {
            await connection.OpenAsync();
            foreach (var gid in await PreparedGidsAsync(connection))
            {
                await using var rollback = new NpgsqlCommand($"ROLLBACK PREPARED '{gid.Replace("'", "''", StringComparison.Ordinal)}'", connection);
                await rollback.ExecuteNonQueryAsync();
            }
        }

        NpgsqlConnection.ClearAllPools();
        await ExecuteAsync(ConnectionString, $"DROP DATABASE IF EXISTS {Quote(name)} WITH (FORCE)");
    }
}
