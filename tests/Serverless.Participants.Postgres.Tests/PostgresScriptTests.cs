using Npgsql;
using Serverless.Testing;

namespace Serverless.Participants.Postgres.Tests;

/// <summary>scripts/postgres.sh itself, on a cluster of its own (the shared one may come from TEST_POSTGRES_CONNECTION).</summary>
public sealed class PostgresScriptTests
{
    [Fact]
    public async Task Start_GivesAWorkingConnectionString_IsIdempotent_AndStopStopsTheServer()
    {
        var directory = Path.Combine(Path.GetTempPath(), $"serverless-pg-script-{Guid.NewGuid():N}");
        try
        {
            var connectionString = await PostgresServer.StartClusterAsync(directory);
            Assert.Equal(connectionString, await PostgresServer.StartClusterAsync(directory));

            var builder = new NpgsqlConnectionStringBuilder(connectionString);
            Assert.Equal("127.0.0.1", builder.Host);
            Assert.False(string.IsNullOrEmpty(builder.Password));
            await using (var connection = new NpgsqlConnection(connectionString))
            {
                await connection.OpenAsync();
                await using var command = new NpgsqlCommand(
                    "SELECT current_setting('max_prepared_transactions')::int, current_setting('listen_addresses')", connection);
                await using var reader = await command.ExecuteReaderAsync();
                Assert.True(await reader.ReadAsync());
                Assert.True(reader.GetInt32(0) > 0);
                Assert.Equal("127.0.0.1", reader.GetString(1));
            }

            NpgsqlConnection.ClearAllPools();
            await PostgresServer.RunScriptAsync("stop", directory);
            await using var stopped = new NpgsqlConnection(connectionString);
            await Assert.ThrowsAnyAsync<NpgsqlException>(() => stopped.OpenAsync());
            await PostgresServer.RunScriptAsync("stop", directory);
        }
        finally
        {
            await PostgresServer.RunScriptAsync("stop", directory);
            Directory.Delete(directory, recursive: true);
        }
    }
}
