using System.Text.Json;
using MySqlConnector;
using Serverless.Core.Participants;
using Serverless.Testing;

namespace Serverless.Participants.MySql.Tests;

/// <summary>
/// Base of the tests: the class's own database, and for each test a participant name of its own (part of its xids).
/// After every test XA RECOVER shows no branch of that test: a test that leaves one fails.
/// </summary>
[Collection(MariaDbCollection.Name)]
public abstract class LedgerTest(MariaDbServer server) : IAsyncLifetime
{
    /// <summary>The shortest lock wait MySQL has, so that votes on held rows come quickly.</summary>
    protected static readonly MySqlParticipantOptions Options = new() { LockTimeout = TimeSpan.FromSeconds(1) };

    protected MariaDbServer Server => server;

    protected string ConnectionString { get; private set; } = string.Empty;

    /// <summary>This test's participant name.</summary>
    protected string Participant { get; } = $"ledger-{Guid.NewGuid():N}"[..20];

    protected LedgerParticipant Ledger { get; private set; } = null!;

    protected MySqlResourceManager Manager => Ledger.ResourceManager;

    public virtual async Task InitializeAsync()
    {
        ConnectionString = await server.DatabaseAsync(GetType().Name);
        Ledger = new LedgerParticipant(ConnectionString, Participant, Options);
        await Manager.EnsureCreatedAsync();
    }

    public async Task DisposeAsync()
    {
        var lingering = await PreparedAsync();
        foreach (var xid in lingering)
        {
            var parts = xid.Split(':', 3);
            await ExecuteAsync($"XA ROLLBACK '{parts[1]}','{parts[2]}',{parts[0]}");
        }

        Assert.True(lingering.Count == 0, $"prepared XA branches left behind: {string.Join(", ", lingering)}");
    }

    /// <summary>This test's prepared XA branches ("formatID:gtrid:bqual"), from XA RECOVER.</summary>
    protected async Task<List<string>> PreparedAsync() =>
        [.. (await MariaDbServer.PreparedXidsAsync(ConnectionString)).Where(x => x.Contains($":{Participant}:", StringComparison.Ordinal))];

    protected static BranchKey NewBranch(int branch = 0) => new($"tx-{Guid.NewGuid():N}", branch);

    protected static string NewAccount() => $"acct-{Guid.NewGuid():N}";

    protected static string Debit(string account, long amount) => JsonSerializer.Serialize(new { type = "debit", account, amount });

    protected static string Credit(string account, long amount) => JsonSerializer.Serialize(new { type = "credit", account, amount });

    protected async Task<string> AccountAsync(long balance)
    {
        var account = NewAccount();
        Assert.True(await Ledger.SetBalanceAsync(account, balance));
        return account;
    }

    protected async Task<long> EntriesAsync(BranchKey branch)
    {
        await using var connection = new MySqlConnection(ConnectionString);
        await connection.OpenAsync();
        await using var command = new MySqlCommand(
            "SELECT count(*) FROM ledger_entries WHERE participant = @p AND transaction_id = @t AND branch = @b", connection);
        command.Parameters.AddWithValue("@p", Participant);
        command.Parameters.AddWithValue("@t", branch.TransactionId);
        command.Parameters.AddWithValue("@b", branch.Branch);
        return (long)(await command.ExecuteScalarAsync())!;
    }

    protected async Task ExecuteAsync(string sql)
    {
        await using var connection = new MySqlConnection(ConnectionString);
        await connection.OpenAsync();
        await using var command = new MySqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }
}
