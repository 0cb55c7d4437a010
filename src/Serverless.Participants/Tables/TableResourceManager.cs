using System.Globalization;
using System.Text.Json;
using Azure.Data.Tables;
using Serverless.Core.Participants;
using Serverless.Core.Protocol;

namespace Serverless.Participants.Tables;

/// <summary>
/// A resource manager whose resources are rows in Table storage. Each operation touches one resource row; the
/// branch's record lives in the same partition, so prepare, commit and rollback each change the resource and
/// the record in one entity-group transaction (atomic), guarded by the ETags that were read.
/// </summary>
/// <typeparam name="TOperation">The parsed operation.</typeparam>
/// <remarks>
/// Idempotency and ordering follow <see cref="ParticipantProtocol"/>. Concurrent branches on one resource race
/// on its ETag; the loser reloads and decides again. After an exception, zero or all of a step is durable.
/// </remarks>
public abstract partial class TableResourceManager<TOperation>(TableClient table) : IResourceManager, IRequiresInitialization, IPreparedBranchSource
    where TOperation : class
{
    private const int MaxConflictRetries = 100;

    /// <summary>
    /// Longest operation text kept in a branch record (a string property holds at most 32K UTF-16 characters);
    /// the API admits 16 KiB, so only a hand-made command can be longer, and its branch is then not self-describing.
    /// </summary>
    private const int MaxRecordedOperationChars = 30_000;

    private const string RecordPrefix = "tx|";

    // The first key after every "tx|…" key: '}' follows '|' in ordinal order.
    private const string RecordPrefixEnd = "tx}";

    public TableClient Table => table;

    /// <summary>Parses and validates an operation; false with a reason when it is invalid.</summary>
    protected abstract bool TryParse(JsonElement operation, out TOperation? parsed, out string? error);

    /// <summary>The partition and row of the resource an operation touches.</summary>
    protected abstract (string PartitionKey, string RowKey) ResourceOf(TOperation operation);

    /// <summary>Reserves what the operation needs on <paramref name="resource"/> (null when missing) and votes.</summary>
    /// <returns>The vote, and whether <paramref name="resource"/> was changed and must be written.</returns>
    protected abstract (PrepareResult Vote, bool Changed) Reserve(TableEntity? resource, TOperation operation);

    /// <summary>Applies a prepared operation to its resource; returns whether the resource changed.</summary>
    protected abstract bool Apply(TableEntity resource, TOperation operation);

    /// <summary>Releases a prepared operation's reservation; returns whether the resource changed.</summary>
    protected abstract bool Release(TableEntity resource, TOperation operation);

    public Task EnsureCreatedAsync(CancellationToken cancellationToken = default) => table.CreateIfNotExistsAsync(cancellationToken);

    public async Task<PrepareResult> PrepareAsync(BranchKey branch, string operation, CancellationToken cancellationToken = default)
    {
        if (!TryParseText(operation, out var op, out var error))
        {
            // Deterministic for the same text, so no record is needed to repeat it.
            return PrepareResult.No($"invalid operation: {error}");
        }

        return await WithRetriesAsync(branch, op!, (resource, record) =>
        {
            if (ParticipantProtocol.OnPrepare(RecordOf(record)) == BranchAction.AlreadyDone)
            {
                return (ParticipantProtocol.RepeatVote(RecordOf(record)!), (List<TableTransactionAction>?)null);
            }

            var working = resource is null ? null : Clone(resource);
            var (vote, changed) = Reserve(working, op!);
            if (vote.Vote == Vote.ReadOnly)
            {
                // Nothing reserved, nothing to finish: no record, no phase 2 (the read-only optimisation).
                return (vote, (List<TableTransactionAction>?)null);
            }

            var phase = vote.Vote == Vote.No ? BranchPhase.Refused : BranchPhase.Prepared;
            var actions = new List<TableTransactionAction> { new(TableTransactionActionType.Add, NewRecord(branch, op!, operation, phase, vote.Vote, vote.Reason)) };
            if (changed && working is not null)
            {
                actions.Add(Write(working, resource));
            }

            return (vote, (List<TableTransactionAction>?)actions);
        }, cancellationToken);
    }

    public Task CommitAsync(BranchKey branch, string operation, CancellationToken cancellationToken = default) =>
        FinishAsync(branch, operation, commit: true, cancellationToken);

    public Task RollbackAsync(BranchKey branch, string operation, CancellationToken cancellationToken = default) =>
        FinishAsync(branch, operation, commit: false, cancellationToken);

    private async Task FinishAsync(BranchKey branch, string operation, bool commit, CancellationToken cancellationToken)
    {
        var command = commit ? "commit" : "rollback";
        if (!TryParseText(operation, out var op, out var error))
        {
            // Prepare voted No on this text and reserved nothing: a rollback has nothing to undo, a commit is a violation.
            if (commit)
            {
                throw new ProtocolViolationException($"commit of branch {branch} with an invalid operation ({error})");
            }

            return;
        }

        await WithRetriesAsync<object?>(branch, op!, (resource, recordEntity) =>
        {
            var record = RecordOf(recordEntity);
            var action = commit ? ParticipantProtocol.OnCommit(record) : ParticipantProtocol.OnRollback(record);
            switch (action)
            {
                case BranchAction.AlreadyDone:
                    return ((object?, List<TableTransactionAction>?))((null, null));
                case BranchAction.Violation:
                    throw new ProtocolViolationException(
                        $"{command} of branch {branch} contradicts its record ({record?.Phase.ToString() ?? "never prepared"})");
                case BranchAction.RecordOnly:
                    return ((object?, List<TableTransactionAction>?))(
                        (null, [new(TableTransactionActionType.Add, NewRecord(branch, op!, operation, BranchPhase.RolledBack, null, ParticipantProtocol.RolledBackBeforePrepare))]));
            }

            var updated = Clone(recordEntity!);
            updated["Phase"] = (commit ? BranchPhase.Committed : BranchPhase.RolledBack).ToString();
            var actions = new List<TableTransactionAction> { new(TableTransactionActionType.UpdateReplace, updated, recordEntity!.ETag) };
            if (resource is null)
            {
                if (record!.Vote == Vote.Yes && ResourceRequired(op!))
                {
                    throw new InvalidOperationException($"{command} of branch {branch}: the resource it holds is missing");
                }
            }
            else
            {
                var working = Clone(resource);
                if (record!.Vote == Vote.Yes && (commit ? Apply(working, op!) : Release(working, op!)))
                {
                    actions.Add(Write(working, resource));
                }
            }

            return ((object?, List<TableTransactionAction>?))((null, actions));
        }, cancellationToken);
    }

    /// <summary>Whether a prepared operation needs its resource row to exist at commit or rollback.</summary>
    protected virtual bool ResourceRequired(TOperation operation) => true;

    /// <summary>
    /// Reads the resource and the branch's record, decides, and writes the step in one entity-group transaction guarded by
    /// the ETags it read; on a conflict (409, 412) or a row gone (404), reads again and decides again.
    /// </summary>
    private async Task<T> WithRetriesAsync<T>(
        BranchKey branch,
        TOperation op,
        Func<TableEntity?, TableEntity?, (T Result, List<TableTransactionAction>? Actions)> decide,
        CancellationToken cancellationToken)
    {
        var (pk, rk) = ResourceOf(op);
        var recordKey = RecordKey(branch);
        for (var attempt = 1; ; attempt++)
        {
            TableEntity? resource = null, record = null;
            var filter = TableClient.CreateQueryFilter($"PartitionKey eq {pk} and (RowKey eq {rk} or RowKey eq {recordKey})");
            await foreach (var e in table.QueryAsync<TableEntity>(filter, cancellationToken: cancellationToken))
            {
                if (e.RowKey == rk)
                {
                    resource = e;
                }
                else
                {
                    record = e;
                }
            }

            var (result, actions) = decide(resource, record);
            if (actions is null || actions.Count == 0)
            {
                return result;
            }

            try
            {
                await table.SubmitTransactionAsync(actions, cancellationToken);
                return result;
            }
            catch (TableTransactionFailedException ex) when (ex.Status is 409 or 412 or 404 && attempt < MaxConflictRetries)
            {
                // Another branch changed the resource, a duplicate wrote the record first, or a row is gone: read and decide again.
                await Task.Delay(Random.Shared.Next(1, 4 * Math.Min(attempt, 25)), cancellationToken);
            }
        }
    }

    private bool TryParseText(string operation, out TOperation? parsed, out string? error)
    {
        try
        {
            using var document = JsonDocument.Parse(operation);
            return TryParse(document.RootElement, out parsed, out error);
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException or ArgumentException)
        {
            // Text that is not valid Unicode: a lone surrogate, raw (ArgumentException) or escaped (InvalidOperationException on reading it).
            parsed = null;
            error = ex.Message;
            return false;
        }
    }

    private TableEntity NewRecord(BranchKey branch, TOperation op, string operation, BranchPhase phase, Vote? vote, string? reason) =>
        new(ResourceOf(op).PartitionKey, RecordKey(branch))
        {
            ["Phase"] = phase.ToString(),
            ["Vote"] = vote?.ToString(),
            ["Reason"] = reason,
            ["At"] = DateTimeOffset.UtcNow,

            // Makes a prepared branch self-describing, so that in-doubt resolution can ask about it (and a presumed-abort
            // rollback can find its resource) without the coordinator's record.
            ["Operation"] = operation.Length <= MaxRecordedOperationChars ? operation : null,
        };

    private static TableTransactionAction Write(TableEntity working, TableEntity? original) =>
        original is null
            ? new TableTransactionAction(TableTransactionActionType.Add, working)
            : new TableTransactionAction(TableTransactionActionType.UpdateReplace, working, original.ETag);

    /// <summary>
    /// Lists this resource manager's branches still <see cref="BranchPhase.Prepared"/> that were prepared before
    /// <paramref name="preparedBefore"/>: one query across every partition, filtered on the record's phase.
    /// </summary>
    public async Task<IReadOnlyList<PreparedBranch>> ListPreparedAsync(DateTimeOffset preparedBefore, int max, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(max, 1);
        var prepared = BranchPhase.Prepared.ToString();
        var filter = TableClient.CreateQueryFilter($"RowKey ge {RecordPrefix} and RowKey lt {RecordPrefixEnd} and Phase eq {prepared} and At lt {preparedBefore}");
        var found = new List<PreparedBranch>();
        await foreach (var e in table.QueryAsync<TableEntity>(filter, maxPerPage: Math.Min(max, 1000), select: ["PartitionKey", "RowKey", "At", "Operation"], cancellationToken: cancellationToken))
        {
            if (TryParseRecordKey(e.RowKey, out var branch))
            {
                found.Add(new PreparedBranch(branch, e.GetString("Operation"), e.GetDateTimeOffset("At") ?? DateTimeOffset.MinValue));
                if (found.Count >= max)
                {
                    break;
                }
            }
        }

        return found;
    }

    /// <summary>Reads a branch record's row key back; false for a row that is not a well-formed branch record.</summary>
    public static bool TryParseRecordKey(string rowKey, out BranchKey branch)
    {
        ArgumentNullException.ThrowIfNull(rowKey);
        branch = default;
        var parts = rowKey.Split('|');
        if (parts is not ["tx", var id, var index] || !Serverless.Core.Messaging.Identifiers.IsValidTransactionId(id)
            || !int.TryParse(index, NumberStyles.None, CultureInfo.InvariantCulture, out var number))
        {
            return false;
        }

        branch = new BranchKey(id, number);
        return true;
    }

    /// <summary>The row key of a branch record: "tx|{transaction}|{branch}".</summary>
    public static string RecordKey(BranchKey branch) =>
        $"tx|{branch.TransactionId}|{branch.Branch.ToString(CultureInfo.InvariantCulture)}";

    private static BranchRecord? RecordOf(TableEntity? entity) => entity is null
        ? null
        : new BranchRecord(
            Enum.Parse<BranchPhase>(entity.GetString("Phase")!),
            entity.GetString("Vote") is { } v ? Enum.Parse<Vote>(v) : null,
            entity.GetString("Reason"));

    private static TableEntity Clone(TableEntity entity)
    {
        var copy = new TableEntity(entity.PartitionKey, entity.RowKey) { ETag = entity.ETag };
        foreach (var (key, value) in entity)
        {
            if (key is not ("odata.etag" or "PartitionKey" or "RowKey" or "Timestamp"))
            {
                copy[key] = value;
            }
        }

        return copy;
    }
}
