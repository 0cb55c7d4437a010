using Microsoft.Extensions.Logging;
using MySqlConnector;
using Serverless.Core.Participants;

namespace Serverless.Participants.MySql;

/// <summary>
/// The sample <c>ledger</c> participant: accounts (<c>ledger_accounts</c>) and their entries (<c>ledger_entries</c>) in
/// MySQL, changed by <see cref="LedgerOperation"/>s inside the XA transaction that is prepared on Yes, so a debit or
/// credit exists exactly when its transaction commits.
/// </summary>
/// <remarks>
/// A debit that would take the balance below zero votes No, and so does a debit or credit of a missing account. The
/// changed account row stays locked while the branch is prepared: another transaction's operation on the same account
/// votes No once the lock wait timeout passes, instead of waiting for that decision.
/// </remarks>
public sealed class LedgerParticipant
{
    /// <summary>The participant's default name.</summary>
    public const string DefaultName = "ledger";

    private readonly string _connectionString;
    private readonly int _lockTimeoutSeconds;

    /// <param name="connectionString">The ledger database, in MySqlConnector form (InnoDB, with XA).</param>
    /// <param name="participant">The participant's name, part of its xids.</param>
    /// <param name="options">Settings of the resource manager; defaults when null.</param>
    /// <param name="logger">Where the branches' story is logged; nowhere when null.</param>
    public LedgerParticipant(
        string connectionString,
        string participant = DefaultName,
        MySqlParticipantOptions? options = null,
        ILogger? logger = null)
    {
        ResourceManager = new MySqlResourceManager(connectionString, participant, ApplyAsync, options, logger, CreateSchemaAsync);
        _connectionString = connectionString;
        _lockTimeoutSeconds = (int)Math.Ceiling((options ?? new MySqlParticipantOptions()).LockTimeout.TotalSeconds);
    }

    /// <summary>The resource manager to hand the participant's commands to; its <see cref="MySqlResourceManager.EnsureCreatedAsync"/> creates the ledger's tables too.</summary>
    public MySqlResourceManager ResourceManager { get; }

    /// <summary>Creates the ledger's tables when missing.</summary>
    private static async Task CreateSchemaAsync(MySqlConnection connection, CancellationToken cancellationToken)
    {
        await using (var accounts = new MySqlCommand("""
            CREATE TABLE IF NOT EXISTS ledger_accounts (
                account varchar(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY,
                balance bigint NOT NULL CHECK (balance >= 0)
            ) ENGINE=InnoDB
            """, connection))
        {
            await accounts.ExecuteNonQueryAsync(cancellationToken);
        }

        await using var entries = new MySqlCommand("""
            CREATE TABLE IF NOT EXISTS ledger_entries (
                id bigint NOT NULL AUTO_INCREMENT PRIMARY KEY,
                participant varchar(40) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
                transaction_id varchar(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
                branch int NOT NULL,
                account varchar(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
                amount bigint NOT NULL,
                created_at datetime(6) NOT NULL,
                UNIQUE KEY ledger_entries_branch (participant, transaction_id, branch),
                KEY ledger_entries_account (account)
            ) ENGINE=InnoDB
            """, connection);
        await entries.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>The committed balance of <paramref name="account"/>; null when there is no such account.</summary>
    public async Task<long?> GetBalanceAsync(string account, CancellationToken cancellationToken = default)
    {
        if (!LedgerOperation.IsValidAccount(account))
        {
            return null;
        }

        await using var connection = new MySqlConnection(_connectionString);
        await connection.OpenAsync(cancellationToken);
        await using var command = new MySqlCommand("SELECT balance FROM ledger_accounts WHERE account = @a", connection);
        command.Parameters.AddWithValue("@a", account);
        return await command.ExecuteScalarAsync(cancellationToken) is long balance ? balance : null;
    }

    /// <summary>
    /// Creates <paramref name="account"/> or sets its balance (outside any transaction of the protocol). False when a
    /// branch that changed the account is prepared and undecided, holding its row: the lock wait timed out.
    /// </summary>
    public async Task<bool> SetBalanceAsync(string account, long balance, CancellationToken cancellationToken = default)
    {
        if (!LedgerOperation.IsValidAccount(account))
        {
            throw new ArgumentException($"'{account}' is not a valid account id.", nameof(account));
        }

        ArgumentOutOfRangeException.ThrowIfNegative(balance);
        await using var connection = new MySqlConnection(_connectionString);
        await connection.OpenAsync(cancellationToken);
        await using var command = new MySqlCommand($"""
            SET SESSION innodb_lock_wait_timeout = {_lockTimeoutSeconds};
            INSERT INTO ledger_accounts (account, balance) VALUES (@a, @b) ON DUPLICATE KEY UPDATE balance = VALUES(balance)
            """, connection);
        command.Parameters.AddWithValue("@a", account);
        command.Parameters.AddWithValue("@b", balance);
        try
        {
            await command.ExecuteNonQueryAsync(cancellationToken);
            return true;
        }
        catch (MySqlException ex) when (BranchStore.IsLockTimeout(ex))
        {
            return false;
        }
    }

    /// <summary>The prepare handler: validates the operation, changes the balance and writes the entry.</summary>
    public static async Task<PrepareResult> ApplyAsync(MySqlBranchContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        if (!LedgerOperation.TryParse(context.Operation, out var op, out var error))
        {
            return PrepareResult.No($"invalid operation: {error}");
        }

        await using (var update = context.CreateCommand(op!.IsDebit
            ? "UPDATE ledger_accounts SET balance = balance - @n WHERE account = @a AND balance >= @n"
            : "UPDATE ledger_accounts SET balance = balance + @n WHERE account = @a"))
        {
            update.Parameters.AddWithValue("@a", op.Account);
            update.Parameters.AddWithValue("@n", op.Amount);
            if (await update.ExecuteNonQueryAsync(cancellationToken) != 1)
            {
                return await ExistsAsync(context, op.Account, cancellationToken)
                    ? PrepareResult.No($"insufficient funds in '{op.Account}'")
                    : PrepareResult.No($"account '{op.Account}' does not exist");
            }
        }

        await using var entry = context.CreateCommand("""
            INSERT INTO ledger_entries (participant, transaction_id, branch, account, amount, created_at)
            VALUES (@p, @t, @b, @a, @n, UTC_TIMESTAMP(6))
            """);
        entry.Parameters.AddWithValue("@p", context.Participant);
        entry.Parameters.AddWithValue("@t", context.Branch.TransactionId);
        entry.Parameters.AddWithValue("@b", context.Branch.Branch);
        entry.Parameters.AddWithValue("@a", op.Account);
        entry.Parameters.AddWithValue("@n", op.IsDebit ? -op.Amount : op.Amount);
        await entry.ExecuteNonQueryAsync(cancellationToken);
        return PrepareResult.Yes;
    }

    private static async Task<bool> ExistsAsync(MySqlBranchContext context, string account, CancellationToken cancellationToken)
    {
        await using var command = context.CreateCommand("SELECT 1 FROM ledger_accounts WHERE account = @a");
        command.Parameters.AddWithValue("@a", account);
        return await command.ExecuteScalarAsync(cancellationToken) is not null;
    }
}
