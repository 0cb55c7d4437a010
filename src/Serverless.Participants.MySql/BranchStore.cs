using System.Globalization;
using MySqlConnector;
using Serverless.Core.Participants;
using Serverless.Core.Protocol;

namespace Serverless.Participants.MySql;

/// <summary>
/// The SQL of the branch records: the <c>tx_xa_branches</c> and <c>tx_xa_started</c> tables and the server's XA
/// transactions.
/// </summary>
/// <remarks>
/// <para>A branch's phase is read from two places. An xid listed by <c>XA RECOVER</c> is
/// <see cref="BranchPhase.Prepared"/>: its row in <c>tx_xa_branches</c> was written inside the XA transaction and is
/// invisible until <c>XA COMMIT</c>. Otherwise the row, when there is one, says Committed, RolledBack or Refused.</para>
/// <para>The row written inside an XA transaction already says Committed: it becomes visible exactly when that is true,
/// and disappears with <c>XA ROLLBACK</c>. <c>tx_xa_started</c> holds when a branch's first prepare began, because
/// <c>XA RECOVER</c> tells no time, and in-doubt resolution leaves young branches alone.</para>
/// <para>Keys are <c>ascii_bin</c>: transaction ids are case-sensitive, whatever the server's default collation.</para>
/// </remarks>
internal static class BranchStore
{
    public const string Table = "tx_xa_branches";
    public const string StartedTable = "tx_xa_started";

    private const int ErrorDuplicateKey = 1062;
    private const int ErrorLockWaitTimeout = 1205;
    private const int ErrorDeadlock = 1213;
    private const int ErrorXaUnknownXid = 1397;
    private const int ErrorXaRmFail = 1399;
    private const int ErrorXaRolledBack = 1402;
    private const int ErrorXaDuplicateXid = 1440;
    private const int ErrorXaRolledBackTimeout = 1613;
    private const int ErrorXaRolledBackDeadlock = 1614;
    private const int ErrorMySqlCheckViolated = 3819;
    private const int ErrorMariaDbCheckViolated = 4025;

    public static async Task EnsureSchemaAsync(MySqlConnection connection, CancellationToken cancellationToken)
    {
        // CREATE TABLE IF NOT EXISTS is safe run concurrently in MySQL (metadata locks serialize it).
        await ExecuteAsync(connection, $"""
            CREATE TABLE IF NOT EXISTS {Table} (
                participant varchar(40) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
                transaction_id varchar(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
                branch int NOT NULL,
                phase varchar(16) CHARACTER SET ascii NOT NULL CHECK (phase IN ('Committed', 'RolledBack', 'Refused')),
                vote varchar(8) CHARACTER SET ascii NULL CHECK (vote IS NULL OR vote IN ('Yes', 'No', 'ReadOnly')),
                reason text CHARACTER SET utf8mb4 NULL,
                updated_at datetime(6) NOT NULL,
                PRIMARY KEY (participant, transaction_id, branch)
            ) ENGINE=InnoDB
            """, cancellationToken);
        await ExecuteAsync(connection, $"""
            CREATE TABLE IF NOT EXISTS {StartedTable} (
                participant varchar(40) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
                transaction_id varchar(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
                branch int NOT NULL,
                started_at datetime(6) NOT NULL,
                PRIMARY KEY (participant, transaction_id, branch)
            ) ENGINE=InnoDB
            """, cancellationToken);
    }

    /// <summary>Sets the session's <c>innodb_lock_wait_timeout</c> (whole seconds).</summary>
    public static Task SetLockTimeoutAsync(MySqlConnection connection, int seconds, CancellationToken cancellationToken) =>
        ExecuteAsync(connection, $"SET SESSION innodb_lock_wait_timeout = {seconds.ToString(CultureInfo.InvariantCulture)}", cancellationToken);

    /// <summary>The branch's record, or null when the branch is unknown. Must run outside any transaction.</summary>
    public static async Task<BranchRecord?> ReadAsync(MySqlConnection connection, string participant, XaId xid, BranchKey branch, CancellationToken cancellationToken)
    {
        // XA RECOVER first, then the table in a later statement with its own, newer read view: an XA COMMIT that removes
        // the xid from the list has made its row visible by then.
        if (await IsPreparedAsync(connection, participant, branch, cancellationToken))
        {
            return new BranchRecord(BranchPhase.Prepared, Vote.Yes);
        }

        await using var command = new MySqlCommand(
            $"SELECT phase, vote, reason FROM {Table} WHERE participant = @p AND transaction_id = @t AND branch = @b", connection);
        AddKey(command, participant, branch);
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

    public static async Task<bool> IsPreparedAsync(MySqlConnection connection, string participant, BranchKey branch, CancellationToken cancellationToken) =>
        (await RecoverAsync(connection, participant, cancellationToken)).Contains(branch);

    /// <summary><c>XA RECOVER</c>: the prepared branches of <paramref name="participant"/> (other xids on the server are skipped).</summary>
    public static async Task<HashSet<BranchKey>> RecoverAsync(MySqlConnection connection, string participant, CancellationToken cancellationToken)
    {
        var branches = new HashSet<BranchKey>();
        await using var command = new MySqlCommand("XA RECOVER", connection);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            var data = reader.GetValue(3) switch
            {
                byte[] bytes => bytes,
                string text => System.Text.Encoding.Latin1.GetBytes(text),
                _ => [],
            };
            if (XaId.TryParse(participant, Convert.ToInt32(reader.GetValue(0), CultureInfo.InvariantCulture),
                    Convert.ToInt32(reader.GetValue(1), CultureInfo.InvariantCulture), Convert.ToInt32(reader.GetValue(2), CultureInfo.InvariantCulture),
                    data, out var branch))
            {
                branches.Add(branch);
            }
        }

        return branches;
    }

    /// <summary>Notes when the branch's first prepare began (a later attempt keeps the first time).</summary>
    public static async Task RecordStartedAsync(MySqlConnection connection, string participant, BranchKey branch, CancellationToken cancellationToken)
    {
        await using var command = new MySqlCommand(
            $"INSERT INTO {StartedTable} (participant, transaction_id, branch, started_at) VALUES (@p, @t, @b, UTC_TIMESTAMP(6))", connection);
        AddKey(command, participant, branch);
        try
        {
            await command.ExecuteNonQueryAsync(cancellationToken);
        }
        catch (MySqlException ex) when (ex.Number is ErrorDuplicateKey or ErrorLockWaitTimeout or ErrorDeadlock)
        {
            // Noted before (or being noted by a duplicate right now).
        }
    }

    /// <summary>How long ago each branch's first prepare began, by the server's clock; branches never noted are absent.</summary>
    public static async Task<TimeSpan?> AgeAsync(MySqlConnection connection, string participant, BranchKey branch, CancellationToken cancellationToken)
    {
        await using var command = new MySqlCommand(
            $"SELECT TIMESTAMPDIFF(MICROSECOND, started_at, UTC_TIMESTAMP(6)) FROM {StartedTable} WHERE participant = @p AND transaction_id = @t AND branch = @b",
            connection);
        AddKey(command, participant, branch);
        var value = await command.ExecuteScalarAsync(cancellationToken);
        return value is null or DBNull ? null : TimeSpan.FromMicroseconds(Convert.ToInt64(value, CultureInfo.InvariantCulture));
    }

    /// <summary>
    /// Inserts a branch record on <paramref name="connection"/> (inside its XA transaction, or as a statement of its own).
    /// False when the branch already has a record, or when another transaction holds it for longer than the session's lock
    /// wait timeout: either way the caller lost a race and must read the record again.
    /// </summary>
    public static async Task<bool> TryInsertAsync(
        MySqlConnection connection,
        string participant,
        BranchKey branch,
        BranchPhase phase,
        Vote? vote,
        string? reason,
        CancellationToken cancellationToken)
    {
        await using var command = new MySqlCommand($"""
            INSERT INTO {Table} (participant, transaction_id, branch, phase, vote, reason, updated_at)
            VALUES (@p, @t, @b, @phase, @vote, @reason, UTC_TIMESTAMP(6))
            """, connection);
        AddKey(command, participant, branch);
        command.Parameters.AddWithValue("@phase", phase.ToString());
        command.Parameters.AddWithValue("@vote", (object?)vote?.ToString() ?? DBNull.Value);
        command.Parameters.AddWithValue("@reason", (object?)reason ?? DBNull.Value);
        try
        {
            return await command.ExecuteNonQueryAsync(cancellationToken) == 1;
        }
        catch (MySqlException ex) when (ex.Number is ErrorDuplicateKey or ErrorLockWaitTimeout or ErrorDeadlock)
        {
            return false;
        }
    }

    /// <summary><c>XA START</c>; false when the xid is in use (a duplicate prepare is running or has prepared).</summary>
    public static async Task<bool> TryStartAsync(MySqlConnection connection, XaId xid, CancellationToken cancellationToken)
    {
        try
        {
            await ExecuteAsync(connection, $"XA START {xid.Sql}", cancellationToken);
            return true;
        }
        catch (MySqlException ex) when (ex.Number == ErrorXaDuplicateXid)
        {
            return false;
        }
    }

    /// <summary>
    /// <c>XA END</c> and <c>XA PREPARE</c>. Throws when the server had already rolled the branch back (a deadlock or lock
    /// wait timeout that a handler caught and ignored): nothing was prepared then.
    /// </summary>
    public static async Task PrepareAsync(MySqlConnection connection, XaId xid, CancellationToken cancellationToken)
    {
        try
        {
            await ExecuteAsync(connection, $"XA END {xid.Sql}", cancellationToken);
            await ExecuteAsync(connection, $"XA PREPARE {xid.Sql}", cancellationToken);
        }
        catch (MySqlException ex) when (ex.Number is ErrorXaRolledBack or ErrorXaRolledBackTimeout or ErrorXaRolledBackDeadlock)
        {
            throw new InvalidOperationException(
                $"XA PREPARE {xid} failed: the server had rolled the branch back ({ex.Message}), after an error inside it was caught and ignored. Nothing was prepared.", ex);
        }
    }

    /// <summary>Ends and rolls back an XA transaction that was not prepared; errors are ignored (closing the connection rolls it back too).</summary>
    public static async Task AbandonAsync(MySqlConnection connection, XaId xid, CancellationToken cancellationToken)
    {
        foreach (var statement in new[] { $"XA END {xid.Sql}", $"XA ROLLBACK {xid.Sql}" })
        {
            try
            {
                await ExecuteAsync(connection, statement, cancellationToken);
            }
            catch (MySqlException)
            {
                // Already ended, or already rolled back by the server (a deadlock): what is left goes with the connection.
            }
        }
    }

    /// <summary><c>XA COMMIT</c> or <c>XA ROLLBACK</c> of a prepared xid; false when the xid is not (or no longer) available.</summary>
    public static async Task<bool> TryFinishAsync(MySqlConnection connection, XaId xid, bool commit, CancellationToken cancellationToken)
    {
        try
        {
            await ExecuteAsync(connection, $"{(commit ? "XA COMMIT" : "XA ROLLBACK")} {xid.Sql}", cancellationToken);
            return true;
        }
        catch (MySqlException ex) when (!commit && ex.Number == ErrorXaRolledBack)
        {
            // A branch that changed nothing: the server reports the rollback it did as this error.
            return true;
        }
        catch (MySqlException ex) when (ex.Number is ErrorXaUnknownXid or ErrorXaRmFail)
        {
            // Unknown: someone finished it first, or the connection that prepared it has not let go of it yet.
            return false;
        }
    }

    public static bool IsLockTimeout(MySqlException exception) => exception.Number is ErrorLockWaitTimeout or ErrorDeadlock;

    /// <summary>The data would break a constraint: a duplicate key, a failed CHECK, a foreign key, a NULL where none may be.</summary>
    public static bool IsConstraintViolation(MySqlException exception) =>
        exception.SqlState?.StartsWith("23", StringComparison.Ordinal) == true
        || exception.Number is ErrorMySqlCheckViolated or ErrorMariaDbCheckViolated;

    private static void AddKey(MySqlCommand command, string participant, BranchKey branch)
    {
        command.Parameters.AddWithValue("@p", participant);
        command.Parameters.AddWithValue("@t", branch.TransactionId);
        command.Parameters.AddWithValue("@b", branch.Branch);
    }

    private static async Task ExecuteAsync(MySqlConnection connection, string sql, CancellationToken cancellationToken)
    {
        await using var command = new MySqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }
}
