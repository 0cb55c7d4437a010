using System.Text.Json;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using MySqlConnector;
using Serverless.Core.Messaging;
using Serverless.Core.Participants;
using Serverless.Core.Protocol;

namespace Serverless.Participants.MySql;

/// <summary>
/// A MySQL or MariaDB database as a resource manager: a branch's work runs in an XA transaction
/// (<c>XA START</c> … <c>XA END</c>) that is <c>XA PREPARE</c>d on prepare and finished with <c>XA COMMIT</c> or
/// <c>XA ROLLBACK</c> on the decision. Its xid is <see cref="XaId"/>: the transaction id, <c>{participant}:{branch}</c>
/// and this library's formatID.
/// </summary>
/// <remarks>
/// <para>The branch's record lives in the same database (<c>tx_xa_branches</c>, see <see cref="EnsureCreatedAsync"/>).
/// For a Yes vote it is written inside the XA transaction, so it commits or vanishes with the data; a No, a rollback,
/// and a rollback that arrives before any prepare (I6) are recorded in statements of their own. Every command reads
/// the branch's phase from <c>XA RECOVER</c> and the table and follows <see cref="ParticipantProtocol"/>.</para>
/// <para>Duplicates are harmless (I5): a repeated prepare answers the recorded vote without preparing again, also after
/// a crash between XA PREPARE and the vote; a repeated commit or rollback changes nothing. Concurrent duplicates race
/// on the xid (which the server keeps unique: <c>XA START</c> of an xid in use fails) and on the table's primary key;
/// the loser reads the winner's record and answers from it, so every answer matches what is durable.</para>
/// <para>The XA work runs on a connection of its own, outside the pool, closed right after <c>XA PREPARE</c>: a session
/// holding a prepared branch can run nothing else, and until it disconnects no other session can commit that branch.
/// After the disconnect the prepared branch survives (MariaDB 10.5+, MySQL 5.7.7+), and any connection finishes it.</para>
/// <para>Commit and rollback ignore their operation text: the prepared XA transaction already holds the work. They must
/// reach the same server as the prepare.</para>
/// <para>After an exception other than <see cref="ProtocolViolationException"/>, zero or all of the step is durable (a
/// prepare may have prepared; retrying the same command answers Yes without preparing again).</para>
/// </remarks>
public sealed partial class MySqlResourceManager : IResourceManager, IRequiresInitialization, IPreparedBranchSource
{
    private const int MaxAttempts = 10;

    private readonly string _connectionString;
    private readonly string _xaConnectionString;
    private readonly MySqlPrepareHandler _prepare;
    private readonly Func<MySqlConnection, CancellationToken, Task>? _createSchema;
    private readonly int _lockTimeoutSeconds;
    private readonly ILogger _logger;

    /// <param name="connectionString">The participant's database, in MySqlConnector form.</param>
    /// <param name="participant">
    /// The participant's name (1–40 of <c>[a-z0-9-]</c>), part of its xids. Participants that share a server need
    /// distinct names.
    /// </param>
    /// <param name="prepare">The branch's work: runs inside the XA transaction that is prepared on Yes.</param>
    /// <param name="options">Settings; defaults when null.</param>
    /// <param name="logger">Where the branch's story is logged; nowhere when null.</param>
    /// <param name="createSchema">Creates the tables <paramref name="prepare"/> works on when missing, for <see cref="EnsureCreatedAsync"/>; none when null.</param>
    public MySqlResourceManager(
        string connectionString,
        string participant,
        MySqlPrepareHandler prepare,
        MySqlParticipantOptions? options = null,
        ILogger? logger = null,
        Func<MySqlConnection, CancellationToken, Task>? createSchema = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(connectionString);
        ArgumentNullException.ThrowIfNull(prepare);
        if (!Identifiers.IsValidParticipantName(participant))
        {
            throw new ArgumentException($"'{participant}' is not a valid participant name (1-40 of lower-case letters, digits and inner hyphens).", nameof(participant));
        }

        options ??= new MySqlParticipantOptions();
        if (options.LockTimeout <= TimeSpan.Zero || options.LockTimeout > TimeSpan.FromHours(1))
        {
            throw new ArgumentOutOfRangeException(nameof(options), options.LockTimeout, "LockTimeout must be from 1 second to 1 hour.");
        }

        _connectionString = connectionString;
        _xaConnectionString = new MySqlConnectionStringBuilder(connectionString) { Pooling = false }.ConnectionString;
        Participant = participant;
        _prepare = prepare;
        _createSchema = createSchema;
        _lockTimeoutSeconds = (int)Math.Ceiling(options.LockTimeout.TotalSeconds);
        _logger = logger ?? NullLogger.Instance;
    }

    /// <summary>The participant's name, part of its xids.</summary>
    public string Participant { get; }

    /// <summary>The xid under which <paramref name="branch"/> is prepared, as XA statements take it: <c>'{transactionId}','{participant}:{branch}',formatID</c>.</summary>
    public string XaIdOf(BranchKey branch) => XaId.Of(Participant, branch).Sql;

    /// <summary>
    /// Creates the <c>tx_xa_branches</c> and <c>tx_xa_started</c> tables, then the prepare handler's own, when missing (safe to
    /// call concurrently and repeatedly).
    /// </summary>
    public async Task EnsureCreatedAsync(CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await BranchStore.EnsureSchemaAsync(connection, cancellationToken);
        if (_createSchema is not null)
        {
            await _createSchema(connection, cancellationToken);
        }
    }

    /// <summary>What this participant durably knows of <paramref name="branch"/>; null when nothing.</summary>
    public async Task<BranchRecord?> GetBranchAsync(BranchKey branch, CancellationToken cancellationToken = default)
    {
        var xid = XaId.Of(Participant, branch);
        await using var connection = await OpenAsync(cancellationToken);
        return await BranchStore.ReadAsync(connection, Participant, xid, branch, cancellationToken);
    }

    public async Task<PrepareResult> PrepareAsync(BranchKey branch, string operation, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(operation);
        var xid = XaId.Of(Participant, branch);
        await using var connection = await OpenAsync(cancellationToken);
        for (var attempt = 1; ; attempt++)
        {
            var record = await BranchStore.ReadAsync(connection, Participant, xid, branch, cancellationToken);
            if (ParticipantProtocol.OnPrepare(record) == BranchAction.AlreadyDone)
            {
                var repeated = ParticipantProtocol.RepeatVote(record!);
                _logger.VoteRepeated(branch.TransactionId, Participant, branch.Branch, repeated.Vote.ToString(), record!.Phase.ToString());
                return repeated;
            }

            if (await TryPrepareOnceAsync(connection, xid, branch, operation, cancellationToken) is { } vote)
            {
                _logger.Voted(branch.TransactionId, Participant, branch.Branch, vote.Vote.ToString(), vote.Reason);
                return vote;
            }

            await BackOffAsync(branch, "prepare", attempt, cancellationToken);
        }
    }

    /// <summary>One attempt at preparing an unknown branch; null when it lost a race and must read the record again.</summary>
    private async Task<PrepareResult?> TryPrepareOnceAsync(
        MySqlConnection connection, XaId xid, BranchKey branch, string operation, CancellationToken cancellationToken)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(operation);
        }
        catch (JsonException ex)
        {
            return await RefuseAsync(connection, branch, PrepareResult.No($"invalid operation: {ex.Message}"), cancellationToken);
        }

        PrepareResult vote;
        using (document)
        {
            await BranchStore.RecordStartedAsync(connection, Participant, branch, cancellationToken);
            await using var xa = new MySqlConnection(_xaConnectionString);
            await xa.OpenAsync(cancellationToken);
            await BranchStore.SetLockTimeoutAsync(xa, _lockTimeoutSeconds, cancellationToken);
            if (!await BranchStore.TryStartAsync(xa, xid, cancellationToken))
            {
                return null;
            }

            try
            {
                // The record first: a concurrent duplicate or rollback marker conflicts here, before any work is done.
                if (!await BranchStore.TryInsertAsync(xa, Participant, branch, BranchPhase.Committed, Vote.Yes, null, cancellationToken))
                {
                    await BranchStore.AbandonAsync(xa, xid, cancellationToken);
                    return null;
                }

                vote = await RunHandlerAsync(new MySqlBranchContext(branch, document.RootElement, xa, Participant), cancellationToken);
                if (vote.Vote == Vote.Yes)
                {
                    await BranchStore.PrepareAsync(xa, xid, cancellationToken);
                    return PrepareResult.Yes;
                }
            }
            catch (Exception) when (!cancellationToken.IsCancellationRequested)
            {
                // Release the locks now rather than when the server notices the closed connection.
                await BranchStore.AbandonAsync(xa, xid, CancellationToken.None);
                throw;
            }

            await BranchStore.AbandonAsync(xa, xid, cancellationToken);
        }

        return await RefuseAsync(connection, branch, vote, cancellationToken);
    }

    private async Task<PrepareResult> RunHandlerAsync(MySqlBranchContext context, CancellationToken cancellationToken)
    {
        try
        {
            return await _prepare(context, cancellationToken) ?? throw new InvalidOperationException("The prepare handler returned null.");
        }
        catch (PrepareRefusedException ex)
        {
            return PrepareResult.No(ex.Reason);
        }
        catch (MySqlException ex) when (BranchStore.IsConstraintViolation(ex))
        {
            return PrepareResult.No($"the operation violates a constraint: {ex.Message}");
        }
        catch (MySqlException ex) when (BranchStore.IsLockTimeout(ex))
        {
            return PrepareResult.No($"the operation waited more than {_lockTimeoutSeconds} s for data held by another transaction in progress");
        }
    }

    /// <summary>Records a No (or a ReadOnly: nothing was kept either way); null when another record won.</summary>
    private async Task<PrepareResult?> RefuseAsync(MySqlConnection connection, BranchKey branch, PrepareResult vote, CancellationToken cancellationToken)
    {
        // A ReadOnly branch holds nothing and is owed no commit; recording it RolledBack makes a rollback sent when its
        // vote was lost a no-op.
        var phase = vote.Vote == Vote.No ? BranchPhase.Refused : BranchPhase.RolledBack;
        return await BranchStore.TryInsertAsync(connection, Participant, branch, phase, vote.Vote, vote.Reason, cancellationToken)
            ? vote
            : null;
    }

    /// <summary>A pooled connection with the lock wait bounded, outside any transaction.</summary>
    private async Task<MySqlConnection> OpenAsync(CancellationToken cancellationToken)
    {
        var connection = new MySqlConnection(_connectionString);
        try
        {
            await connection.OpenAsync(cancellationToken);
            await BranchStore.SetLockTimeoutAsync(connection, _lockTimeoutSeconds, cancellationToken);
            return connection;
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
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
