using System.Text.Json;
using Npgsql;
using Serverless.Core.Participants;
using Serverless.Testing;

namespace Serverless.Participants.Postgres.Tests;

/// <summary>
/// Base of the tests: the class's own database, and for each test a participant name of its own (the prefix of
/// its gids). After every test no prepared transaction of that test may linger.
/// </summary>
[Collection(PostgresCollection.Name)]
public abstract class ParticipantTest(PostgresServer server) : IAsyncLifetime
{
    /// <summary>A short lock timeout, so that votes on held rows come quickly.</summary>
    protected static readonly PostgresParticipantOptions Options = new() { LockTimeout = TimeSpan.FromMilliseconds(300) };

    /// <summary>The bound of every wait in a test.</summary>
    protected static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    private readonly List<NpgsqlDataSource> _dataSources = [];

    protected PostgresServer Server => server;

    protected string ConnectionString { get; private set; } = string.Empty;

    /// <summary>This test's participant name.</summary>
    protected string Participant { get; } = $"orders-{Guid.NewGuid():N}"[..20];

    protected NpgsqlDataSource DataSource { get; private set; } = null!;

    protected OrdersParticipant Orders { get; private set; } = null!;

    protected PostgresResourceManager Manager => Orders.ResourceManager;

    public virtual async Task InitializeAsync()
    {
        ConnectionString = await server.DatabaseAsync(GetType().Name);
        DataSource = NewDataSource();
        Orders = new OrdersParticipant(DataSource, Participant, Options);
        await Manager.EnsureCreatedAsync();
    }

    public async Task DisposeAsync()
    {
        var lingering = await PreparedGidsAsync();
        foreach (var gid in lingering)
        {
            await ExecuteAsync($"ROLLBACK PREPARED '{gid}'");
        }

        foreach (var dataSource in _dataSources)
        {
            await dataSource.DisposeAsync();
        }

        Assert.True(lingering.Count == 0, $"prepared transactions left behind: {string.Join(", ", lingering)}");
    }

    /// <summary>A data source of its own: disposing it closes its connections, as a process restart would.</summary>
    protected NpgsqlDataSource NewDataSource()
    {
        var dataSource = NpgsqlDataSource.Create(ConnectionString);
        _dataSources.Add(dataSource);
        return dataSource;
    }

    protected static BranchKey NewBranch(int branch = 0) => new($"tx-{Guid.NewGuid():N}", branch);

    protected static string NewOrderId() => $"o-{Guid.NewGuid():N}";

    protected static string PlaceOperation(string orderId, int quantity = 2) =>
        JsonSerializer.Serialize(new { type = "place", orderId, sku = "sku-1", quantity, customer = "alice" });

    /// <summary>This test's prepared transactions.</summary>
    protected async Task<List<string>> PreparedGidsAsync(string? participant = null)
    {
        await using var connection = new NpgsqlConnection(ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(
            "SELECT gid FROM pg_prepared_xacts WHERE starts_with(gid, $1) ORDER BY gid", connection)
        {
            Parameters = { new() { Value = (participant ?? Participant) + ":" } },
        };
        var gids = new List<string>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            gids.Add(reader.GetString(0));
        }

        return gids;
    }

    protected async Task<long> CountOrdersAsync(string orderId)
    {
        await using var connection = new NpgsqlConnection(ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT count(*) FROM orders WHERE order_id = $1", connection)
        {
            Parameters = { new() { Value = orderId } },
        };
        return (long)(await command.ExecuteScalarAsync())!;
    }

    protected async Task ExecuteAsync(string sql)
    {
        await using var connection = new NpgsqlConnection(ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }
}
