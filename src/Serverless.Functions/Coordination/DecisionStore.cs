using System.Collections.Immutable;
using Azure;
using Azure.Data.Tables;
using Serverless.Core.Protocol;

namespace Serverless.Functions.Coordination;

/// <summary>
/// The durable decision records of one task hub (table <c>{hub}Decisions</c>, one row per transaction): the decision written
/// once, first writer wins, never changed. This is what holds I2: the orchestration's phase-2 activities, a one-phase
/// participant, an abort request and in-doubt resolution all record what they propose and then act on what is recorded.
/// </summary>
/// <remarks>
/// <para>After <see cref="RecordAsync"/> returns, the returned record is durable and final. After it throws, the proposed
/// record may or may not have been written: call it again (it is idempotent) before acting on anything.</para>
/// <para>A conflict on insert (409) is the expected outcome of a race, not an error: the earlier record is read and returned.</para>
/// </remarks>
public sealed class DecisionStore(TableClient table) : IDecisionRecords
{
    private const string RowKey = "decision";

    /// <summary>The row that says a transaction was purged: its tombstone, kept for good.</summary>
    private const string PurgedRowKey = "purged";

    public TableClient Table => table;

    public Task CreateIfNotExistsAsync(CancellationToken cancellationToken = default) => table.CreateIfNotExistsAsync(cancellationToken);

    /// <summary>Records <paramref name="proposed"/> unless a decision is already recorded; returns the decision that holds.</summary>
    public async Task<DecisionRecord> RecordAsync(string transactionId, DecisionRecord proposed, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(transactionId);
        ArgumentNullException.ThrowIfNull(proposed);
        var row = ToEntity(transactionId, proposed);
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                await table.AddEntityAsync(row, cancellationToken);
                return proposed;
            }
            catch (RequestFailedException ex) when (ex.Status == 409)
            {
                // Recorded first by another writer, or by this insert whose response was lost and which the client retried.
                if (await GetAsync(transactionId, cancellationToken) is { } found)
                {
                    return found;
                }

                // Deleted between the insert and the read (retention): try again, a bounded number of times.
                if (attempt >= 3)
                {
                    throw;
                }
            }
            catch (RequestFailedException ex) when (ex.Status == 404 && attempt == 0)
            {
                // The table does not exist yet (a new task hub): create it and insert again.
                await table.CreateIfNotExistsAsync(cancellationToken);
            }
        }
    }

    /// <summary>The recorded decision, or null when none is recorded.</summary>
    public async Task<DecisionRecord?> GetAsync(string transactionId, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(transactionId);
        try
        {
            var response = await table.GetEntityIfExistsAsync<TableEntity>(transactionId, RowKey, cancellationToken: cancellationToken);
            return response.HasValue ? FromEntity(response.Value!) : null;
        }
        catch (RequestFailedException ex) when (ex.Status == 404)
        {
            // No table yet: nothing was ever recorded.
            return null;
        }
    }

    /// <summary>
    /// Deletes the transaction's decision record, whatever it holds (no ETag condition: retention removes the row as it is),
    /// and keeps its tombstone (<see cref="MarkPurgedAsync"/>). A row that is not there (never written, already deleted, no
    /// table yet) is not an error.
    /// </summary>
    /// <remarks>
    /// Only for a transaction whose orchestration has Completed: every branch that may hold a reservation acknowledged, so no
    /// one needs the decision any more. After it returns the row is gone; after it throws it may or may not be: call it again.
    /// </remarks>
    public async Task DeleteAsync(string transactionId, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(transactionId);
        try
        {
            await table.DeleteEntityAsync(transactionId, RowKey, ETag.All, cancellationToken);
        }
        catch (RequestFailedException ex) when (ex.Status == 404)
        {
            // Already gone, or no table yet.
        }
    }

    /// <summary>
    /// Leaves the tombstone of a transaction that history retention is purging: a row beside its decision record that
    /// <see cref="DeleteAsync"/> keeps, so that its id is never used for another transaction (I9). Idempotent.
    /// </summary>
    /// <remarks>
    /// Participants keep their branch records of a transaction for good, so a new transaction under the same id would have
    /// its prepares answered by the old records; the tombstone outlives them all.
    /// </remarks>
    public async Task MarkPurgedAsync(string transactionId, DateTimeOffset purgedAt, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(transactionId);
        await table.UpsertEntityAsync(new TableEntity(transactionId, PurgedRowKey) { ["PurgedAt"] = purgedAt }, TableUpdateMode.Replace, cancellationToken);
    }

    /// <summary>When the transaction was purged, or null when it never was (a new id, or one still in the task hub).</summary>
    public async Task<DateTimeOffset?> PurgedAtAsync(string transactionId, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(transactionId);
        try
        {
            var response = await table.GetEntityIfExistsAsync<TableEntity>(transactionId, PurgedRowKey, cancellationToken: cancellationToken);
            return response.HasValue ? response.Value!.GetDateTimeOffset("PurgedAt") ?? DateTimeOffset.MinValue : null;
        }
        catch (RequestFailedException ex) when (ex.Status == 404)
        {
            // No table yet: nothing was ever purged.
            return null;
        }
    }

    private static TableEntity ToEntity(string transactionId, DecisionRecord record) => new(transactionId, RowKey)
    {
        ["Decision"] = record.Decision.ToString(),
        ["Reason"] = record.Reason,
        ["DecidedAt"] = record.DecidedAt,
        ["Votes"] = string.Join(',', record.Votes.Select(v => v?.ToString() ?? string.Empty)),
    };

    private static DecisionRecord FromEntity(TableEntity entity) => new(
        Enum.Parse<Decision>(entity.GetString("Decision")!),
        entity.GetString("Reason"),
        entity.GetDateTimeOffset("DecidedAt") ?? entity.Timestamp ?? DateTimeOffset.MinValue,
        entity.GetString("Votes") is { Length: > 0 } votes
            ? [.. votes.Split(',').Select(v => v.Length == 0 ? (Vote?)null : Enum.Parse<Vote>(v))]
            : ImmutableArray<Vote?>.Empty);
}
