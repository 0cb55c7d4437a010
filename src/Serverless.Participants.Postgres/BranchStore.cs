using System.Globalization;
using Npgsql;
using Serverless.Core.Participants;
using Serverless.Core.Protocol;

namespace Serverless.Participants.Postgres;

/// <summary>
/// The SQL of the branch records: the <c>tx_branches</c> table and PostgreSQL's prepared transactions.
/// </summary>
/// <remarks>
/// <para>A branch's phase is read from two places. A gid listed in <c>pg_prepared_xacts</c> is
/// <see cref="BranchPhase.Prepared"/>: its row in <c>tx_branches</c> was written inside the prepared transaction
/// and is invisible until <c>COMMIT PREPARED</c>. Otherwise the row, when there is one, says
/// Committed, RolledBack or Refused.</para>
/// <para>The row written inside a prepared transaction already says Committed: it becomes visible exactly when
/// that is true, and disappears with <c>ROLLBACK PREPARED</c>.</para>
/// </remarks>
internal static class BranchStore
{
    public const string Table = "tx_branches";

    private const string SqlStateLockNotAvailable = "55P03";
    private const string SqlStateUndefinedObject = "42704";
    private const string SqlStateObjectNotInPrerequisiteState = "55000";

    public static async Task EnsureSchemaAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        await using (var check = new NpgsqlCommand("SELECT current_setting('max_prepared_transactions')::int", connection))
        {
            var max = (int)(await check.ExecuteScalarAsync(cancellationToken))!;
            if (max <= 0)
            {
                throw new InvalidOperationException(
                    "PostgreSQL has max_prepared_transactions = 0, so it cannot prepare transactions; set it above 0 and restart the server.");
            }
        }

        // CREATE TABLE IF NOT EXISTS is not safe against itself run concurrently; the lock makes it so.
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await using (var create = new NpgsqlCommand($"""
            SELECT pg_advisory_xact_lock(hashtextextended('serverless.participants.postgres.schema', 0));
            CREATE TABLE IF NOT EXISTS {Table} (
                gid text PRIMARY KEY,
                transaction_id text NOT NULL,
                branch integer NOT NULL,
                phase text NOT NULL CHECK (phase IN ('Committed', 'RolledBack', 'Refused')),
                vote text CHECK (vote IN ('Yes', 'No', 'ReadOnly')),
                reason text,
                updated_at timestamptz NOT NULL DEFAULT now());
            """, connection, transaction))
        {
            await create.ExecuteNonQueryAsync(cancellationToken);
        }

        await transaction.CommitAsync(cancellationToken);
    }

    /// <summary>The branch's record, or null when the branch is unknown. Must run outside any transaction.</summary>
    public static async Task<BranchRecord?> ReadAsync(NpgsqlConnection connection, string gid, CancellationToken cancellationToken)
    {
        // The view first, then the table in a later statement with its own, newer snapshot: a COMMIT PREPARED
        // that removes the gid from the view has made its row visible by then. In one statement the table would
        // be read with a snapshot older than the view, and a branch committing meanwhile could show as unknown.
        if (await IsPreparedAsync(connection, gid, cancellationToken))
        {
            return new BranchRecord(BranchPhase.Prepared, Vote.Yes);
        }

        await using var command = new NpgsqlCommand($"SELECT phase, vote, reason FROM {Table} WHERE gid = $1", connection)
        {
            Parameters = { new() { Value = gid } },
        };
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        if (!await reader.ReadAsync(cancellationToken))
        {
            return null;
        }

        return new BranchRecord(
            Enum.Parse<BranchPhase>(reader.GetString(0)),
            await reader.IsDBNullAsync(1, cancellationToken) ? null : Enum.Parse<Vote>(reader.GetString(1)),
            await reader.IsDBNullAsync(2, cancellationToken) ? null : reader.GetString(2));
    }

    public static async Task<bool> IsPreparedAsync(NpgsqlConnection connection, string gid, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(
            "SELECT EXISTS (SELECT 1 FROM pg_prepared_xacts WHERE gid = $1 AND database = current_database())", connection)
        {
            Parameters = { new() { Value = gid } },
        };
        return (bool)(await command.ExecuteScalarAsync(cancellationToken))!;
    }

    /// <summary>
    /// Inserts a branch record inside <paramref name="transaction"/>, first setting its <c>lock_timeout</c>.
    /// False when the gid already has a record, or when another transaction holds it for longer than the timeout
    /// (the transaction is then aborted): either way the caller lost a race and must read the record again.
    /// </summary>
    public static async Task<bool> TryInsertAsync(
        NpgsqlConnection connection,
        NpgsqlTransaction transaction,
        string gid,
        BranchKey branch,
        BranchPhase phase,
        Vote? vote,
        string? reason,
        TimeSpan lockTimeout,
        CancellationToken cancellationToken)
    {
        await using var batch = new NpgsqlBatch(connection, transaction)
        {
            BatchCommands =
            {
                new("SELECT set_config('lock_timeout', $1, true)") { Parameters = { new() { Value = LockTimeoutSetting(lockTimeout) } } },
                new($"""
                    INSERT INTO {Table} (gid, transaction_id, branch, phase, vote, reason)
                    VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (gid) DO NOTHING
                    """)
                {
                    Parameters =
                    {
                        new() { Value = gid },
                        new() { Value = branch.TransactionId },
                        new() { Value = branch.Branch },
                        new() { Value = phase.ToString() },
                        new() { Value = (object?)vote?.ToString() ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text },
                        new() { Value = (object?)reason ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text },
                    },
                },
            },
        };
        try
        {
            await batch.ExecuteNonQueryAsync(cancellationToken);
            return batch.BatchCommands[1].RecordsAffected == 1;
        }
        catch (PostgresException ex) when (ex.SqlState == SqlStateLockNotAvailable)
        {
            return false;
        }
    }

    /// <summary>Records a branch in a transaction of its own; false when it lost a race (see <see cref="TryInsertAsync"/>).</summary>
    public static async Task<bool> TryRecordAsync(
        NpgsqlConnection connection,
        string gid,
        BranchKey branch,
        BranchPhase phase,
        Vote? vote,
        string? reason,
        TimeSpan lockTimeout,
        CancellationToken cancellationToken)
    {
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        if (!await TryInsertAsync(connection, transaction, gid, branch, phase, vote, reason, lockTimeout, cancellationToken))
        {
            await transaction.RollbackAsync(cancellationToken);
            return false;
        }

        await transaction.CommitAsync(cancellationToken);
        return true;
    }

    /// <summary>Sets the <c>lock_timeout</c> of the current transaction.</summary>
    public static async Task SetLockTimeoutAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, TimeSpan lockTimeout, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand("SELECT set_config('lock_timeout', $1, true)", connection, transaction)
        {
            Parameters = { new() { Value = LockTimeoutSetting(lockTimeout) } },
        };
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>
    /// <c>PREPARE TRANSACTION</c>, then checks that it really prepared: in a transaction already aborted by an
    /// error (one a handler caught and swallowed), PostgreSQL answers PREPARE with a silent rollback.
    /// </summary>
    /// <returns>False when the gid is already in use (a duplicate prepared first); the transaction is then gone.</returns>
    public static async Task<bool> PrepareAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string gid, CancellationToken cancellationToken)
    {
        try
        {
            await using var prepare = new NpgsqlCommand($"PREPARE TRANSACTION {GlobalTransactionId.Literal(gid)}", connection, transaction);
            await prepare.ExecuteNonQueryAsync(cancellationToken);
        }
        catch (PostgresException ex) when (ex.SqlState == "42710")
        {
            return false;
        }

        if (!await IsPreparedAsync(connection, gid, cancellationToken))
        {
            throw new InvalidOperationException(
                $"PREPARE TRANSACTION {gid} rolled back instead of preparing: an error inside the transaction was caught and ignored. Nothing was prepared.");
        }

        return true;
    }

    /// <summary><c>COMMIT PREPARED</c> or <c>ROLLBACK PREPARED</c>; false when the gid is no longer (or not yet) available.</summary>
    public static async Task<bool> TryFinishAsync(NpgsqlConnection connection, string gid, bool commit, CancellationToken cancellationToken)
    {
        var verb = commit ? "COMMIT" : "ROLLBACK";
        try
        {
            await using var command = new NpgsqlCommand($"{verb} PREPARED {GlobalTransactionId.Literal(gid)}", connection);
            await command.ExecuteNonQueryAsync(cancellationToken);
            return true;
        }
        catch (PostgresException ex) when (ex.SqlState is SqlStateUndefinedObject or SqlStateObjectNotInPrerequisiteState)
        {
            // "does not exist": someone finished it first; "is busy": someone is finishing it right now.
            return false;
        }
    }

    /// <summary>This database's prepared transactions whose gid starts with <paramref name="prefix"/>, prepared at or before now − <paramref name="olderThan"/>.</summary>
    public static async Task<List<(string Gid, DateTimeOffset PreparedAt)>> ListPreparedAsync(
        NpgsqlConnection connection, string prefix, TimeSpan olderThan, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand("""
            SELECT gid, prepared FROM pg_prepared_xacts
            WHERE database = current_database() AND starts_with(gid, $1) AND prepared <= now() - $2
            ORDER BY prepared
            """, connection)
        {
            Parameters = { new() { Value = prefix }, new() { Value = olderThan } },
        };
        var list = new List<(string, DateTimeOffset)>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            list.Add((reader.GetString(0), await reader.GetFieldValueAsync<DateTimeOffset>(1, cancellationToken)));
        }

        return list;
    }

    public static bool IsLockTimeout(PostgresException exception) => exception.SqlState == SqlStateLockNotAvailable;

    /// <summary>SQLSTATE class 23: the data would break a constraint (a duplicate key, a failed check).</summary>
    public static bool IsConstraintViolation(PostgresException exception) => exception.SqlState.StartsWith("23", StringComparison.Ordinal);

    private static string LockTimeoutSetting(TimeSpan timeout) =>
        Math.Max(1, (long)Math.Ceiling(timeout.TotalMilliseconds)).ToString(CultureInfo.InvariantCulture) + "ms";
}
