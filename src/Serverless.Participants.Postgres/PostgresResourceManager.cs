using System.Text.Json;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using Serverless.Core.Messaging;
using Serverless.Core.Participants;
using Serverless.Core.Protocol;

namespace Serverless.Participants.Postgres;

/// <summary>
/// A PostgreSQL database as a resource manager: a branch's work runs in a real database transaction that is
/// <c>PREPARE TRANSACTION</c>-ed on prepare and finished with <c>COMMIT PREPARED</c> or <c>ROLLBACK PREPARED</c>.
/// </summary>
/// <remarks>
/// <para>The branch's record lives in the same database (<c>tx_branches</c>, see <see cref="EnsureCreatedAsync"/>).
/// For a Yes vote it is written inside the prepared transaction, so it commits or vanishes with the data; a No,
/// a rollback, and a rollback that arrives before any prepare (I6) are recorded in small transactions of their
/// own. Every command reads the branch's phase from <c>pg_prepared_xacts</c> and the table and follows
/// <see cref="ParticipantProtocol"/>.</para>
/// <para>Duplicates are harmless (I5): a repeated prepare answers the recorded vote without preparing again,
/// also after a crash between PREPARE and the vote; a repeated commit or rollback changes nothing. Concurrent
/// duplicates race on the table's primary key (and on the gid, which PostgreSQL keeps unique); the loser reads
/// the winner's record and answers from it, so every answer matches what is durable.</para>
/// <para>Commit and rollback ignore their operation text: the prepared transaction already holds the work. They
/// must reach the same database as the prepare (gids live per server, prepared transactions per database).</para>
/// <para>After an exception other than <see cref="ProtocolViolationException"/>, zero or all of the step is durable
/// (a prepare may have prepared; retrying the same command answers Yes without preparing again).</para>
/// </remarks>
public sealed partial class PostgresResourceManager : IResourceManager, IRequiresInitialization, IPreparedBranchSource
{
    private const int MaxAttempts = 10;

    private readonly NpgsqlDataSource _dataSource;
    private readonly PostgresPrepareHandler _prepare;
    private readonly Func<NpgsqlConnection, CancellationToken, Task>? _createSchema;
    private readonly TimeSpan _lockTimeout;
    private readonly ILogger _logger;

    /// <param name="dataSource">The participant's database.</param>
    /// <param name="participant">
    /// The participant's name (1–40 of <c>[a-z0-9-]</c>), the prefix of its gids. Participants that share a
    /// PostgreSQL server need distinct names.
    /// </param>
    /// <param name="prepare">The branch's work: runs inside the transaction that is prepared on Yes.</param>
    /// <param name="options">Settings; defaults when null.</param>
    /// <param name="logger">Where the branch's story is logged; nowhere when null.</param>
    /// <param name="createSchema">Creates the tables <paramref name="prepare"/> works on when missing, for <see cref="EnsureCreatedAsync"/>; none when null.</param>
    public PostgresResourceManager(
        NpgsqlDataSource dataSource,
        string participant,
        PostgresPrepareHandler prepare,
        PostgresParticipantOptions? options = null,
        ILogger? logger = null,
        Func<NpgsqlConnection, CancellationToken, Task>? createSchema = null)
    {
        ArgumentNullException.ThrowIfNull(dataSource);
        ArgumentNullException.ThrowIfNull(prepare);
        if (!Identifiers.IsValidParticipantName(participant))
        {
            throw new ArgumentException($"'{participant}' is not a valid participant name (1-40 of lower-case letters, digits and inner hyphens).", nameof(participant));
        }

        options ??= new PostgresParticipantOptions();
        if (options.LockTimeout <= TimeSpan.Zero || options.LockTimeout.TotalMilliseconds > int.MaxValue)
        {
            throw new ArgumentOutOfRangeException(nameof(options), options.LockTimeout, "LockTimeout must be positive (and under 24 days).");
        }

        _dataSource = dataSource;
        Participant = participant;
        _prepare = prepare;
        _createSchema = createSchema;
        _lockTimeout = options.LockTimeout;
        _logger = logger ?? NullLogger.Instance;
    }

    /// <summary>The participant's name, the prefix of its gids.</summary>
    public string Participant { get; }

    /// <summary>The gid under which <paramref name="branch"/> is prepared: <c>{participant}:tx:{transactionId}:{branch}</c>.</summary>
    public string GlobalTransactionIdOf(BranchKey branch) => GlobalTransactionId.Format(Participant, branch);

    /// <summary>
    /// Creates the <c>tx_branches</c> table, then the prepare handler's own, when missing (safe to call concurrently and
    /// repeatedly). Fails when the server has <c>max_prepared_transactions = 0</c>.
    /// </summary>
    public async Task EnsureCreatedAsync(CancellationToken cancellationToken = default)
    {
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken);
        await BranchStore.EnsureSchemaAsync(connection, cancellationToken);
        if (_createSchema is not null)
        {
            await _createSchema(connection, cancellationToken);
        }
    }

    /// <summary>What this participant durably knows of <paramref name="branch"/>; null when nothing.</summary>
    public async Task<BranchRecord?> GetBranchAsync(BranchKey branch, CancellationToken cancellationToken = default)
    {
        var gid = GlobalTransactionIdOf(branch);
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken);
        return await BranchStore.ReadAsync(connection, gid, cancellationToken);
    }

    public async Task<PrepareResult> PrepareAsync(BranchKey branch, string operation, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(operation);
        var gid = GlobalTransactionIdOf(branch);
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken);
        for (var attempt = 1; ; attempt++)
        {
            var record = await BranchStore.ReadAsync(connection, gid, cancellationToken);
            if (ParticipantProtocol.OnPrepare(record) == BranchAction.AlreadyDone)
            {
                var repeated = ParticipantProtocol.RepeatVote(record!);
                _logger.VoteRepeated(branch.TransactionId, Participant, branch.Branch, repeated.Vote.ToString(), record!.Phase.ToString());
                return repeated;
            }

            if (await TryPrepareOnceAsync(connection, gid, branch, operation, cancellationToken) is { } vote)
            {
                _logger.Voted(branch.TransactionId, Participant, branch.Branch, vote.Vote.ToString(), vote.Reason);
                return vote;
            }

            await BackOffAsync(branch, "prepare", attempt, cancellationToken);
        }
    }

    public async Task CommitAsync(BranchKey branch, string operation, CancellationToken cancellationToken = default)
    {
        var gid = GlobalTransactionIdOf(branch);
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken);
        for (var attempt = 1; ; attempt++)
        {
            var record = await BranchStore.ReadAsync(connection, gid, cancellationToken);
            switch (ParticipantProtocol.OnCommit(record))
            {
                case BranchAction.AlreadyDone:
                    return;
                case BranchAction.Execute:
                    if (await BranchStore.TryFinishAsync(connection, gid, commit: true, cancellationToken))
                    {
                        _logger.Finished(branch.TransactionId, Participant, branch.Branch, nameof(BranchOutcome.Committed));
                        return;
                    }

                    break;
                default:
                    throw Violation("commit", branch, record);
            }

            await BackOffAsync(branch, "commit", attempt, cancellationToken);
        }
    }

    public async Task RollbackAsync(BranchKey branch, string operation, CancellationToken cancellationToken = default)
    {
        var gid = GlobalTransactionIdOf(branch);
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken);
        for (var attempt = 1; ; attempt++)
        {
            var record = await BranchStore.ReadAsync(connection, gid, cancellationToken);
            switch (ParticipantProtocol.OnRollback(record))
            {
                case BranchAction.AlreadyDone:
                    return;
                case BranchAction.RecordOnly:
                    // I6: from now on a prepare of this branch votes No. Racing a prepare, one of the two inserts wins.
                    if (await BranchStore.TryRecordAsync(connection, gid, branch, BranchPhase.RolledBack, null,
                            ParticipantProtocol.RolledBackBeforePrepare, _lockTimeout, cancellationToken))
                    {
                        _logger.Finished(branch.TransactionId, Participant, branch.Branch, "RolledBack before prepare");
                        return;
                    }

                    break;
                case BranchAction.Execute:
                    // The row written inside the prepared transaction vanishes with it; the marker replaces it. A crash
                    // in between leaves the branch unknown, which a retried rollback (RecordOnly) settles the same way.
                    if (await BranchStore.TryFinishAsync(connection, gid, commit: false, cancellationToken)
                        && await BranchStore.TryRecordAsync(connection, gid, branch, BranchPhase.RolledBack, Vote.Yes, null, _lockTimeout, cancellationToken))
                    {
                        _logger.Finished(branch.TransactionId, Participant, branch.Branch, nameof(BranchOutcome.RolledBack));
                        return;
                    }

                    break;
                default:
                    throw Violation("rollback", branch, record);
            }

            await BackOffAsync(branch, "rollback", attempt, cancellationToken);
        }
    }

    /// <summary>One attempt at preparing an unknown branch; null when it lost a race and must read the record again.</summary>
    private async Task<PrepareResult?> TryPrepareOnceAsync(
        NpgsqlConnection connection, string gid, BranchKey branch, string operation, CancellationToken cancellationToken)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(operation);
        }
        catch (JsonException ex)
        {
            return await RefuseAsync(connection, gid, branch, PrepareResult.No($"invalid operation: {ex.Message}"), cancellationToken);
        }

        using (document)
        await using (var transaction = await connection.BeginTransactionAsync(cancellationToken))
        {
            // The record first: a concurrent duplicate or rollback marker conflicts here, before any work is done.
            if (!await BranchStore.TryInsertAsync(connection, transaction, gid, branch, BranchPhase.Committed, Vote.Yes, null, _lockTimeout, cancellationToken))
            {
                await transaction.RollbackAsync(cancellationToken);
                return null;
            }

            var vote = await RunHandlerAsync(new PostgresBranchContext(branch, document.RootElement, connection, transaction), cancellationToken);
            if (vote.Vote == Vote.Yes)
            {
                return await BranchStore.PrepareAsync(connection, transaction, gid, cancellationToken) ? PrepareResult.Yes : null;
            }

            await transaction.RollbackAsync(cancellationToken);
            return await RefuseAsync(connection, gid, branch, vote, cancellationToken);
        }
    }

    private async Task<PrepareResult> RunHandlerAsync(PostgresBranchContext context, CancellationToken cancellationToken)
    {
        try
        {
            return await _prepare(context, cancellationToken) ?? throw new InvalidOperationException("The prepare handler returned null.");
        }
        catch (PrepareRefusedException ex)
        {
            return PrepareResult.No(ex.Reason);
        }
        catch (PostgresException ex) when (BranchStore.IsConstraintViolation(ex))
        {
            return PrepareResult.No($"the operation violates a constraint: {ex.MessageText}");
        }
        catch (PostgresException ex) when (BranchStore.IsLockTimeout(ex))
        {
            return PrepareResult.No($"the operation waited more than {_lockTimeout.TotalSeconds:0.###} s for data held by another transaction in progress");
        }
    }

    /// <summary>Records a No (or a ReadOnly: nothing was kept either way); null when another record won.</summary>
    private async Task<PrepareResult?> RefuseAsync(NpgsqlConnection connection, string gid, BranchKey branch, PrepareResult vote, CancellationToken cancellationToken)
    {
        // A ReadOnly branch holds nothing and is owed no commit; recording it RolledBack makes a rollback sent when
        // its vote was lost a no-op.
        var phase = vote.Vote == Vote.No ? BranchPhase.Refused : BranchPhase.RolledBack;
        return await BranchStore.TryRecordAsync(connection, gid, branch, phase, vote.Vote, vote.Reason, _lockTimeout, cancellationToken)
            ? vote
            : null;
    }

    private async Task BackOffAsync(BranchKey branch, string command, int attempt, CancellationToken cancellationToken)
    {
        if (attempt >= MaxAttempts)
        {
            throw new InvalidOperationException(
                $"{command} of branch {branch} at '{Participant}' lost {attempt} races in a row; retry the command later.");
        }

        _logger.RaceLost(branch.TransactionId, Participant, branch.Branch, command, attempt);
        await Task.Delay(TimeSpan.FromMilliseconds(Random.Shared.Next(5, 20) * attempt), cancellationToken);
    }

    private static ProtocolViolationException Violation(string command, BranchKey branch, BranchRecord? record) =>
        new($"{command} of branch {branch} contradicts its record ({record?.Phase.ToString() ?? "never prepared"})");
}
