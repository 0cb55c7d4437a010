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
    /// <summary>The decision row's key, beside the transaction's claim (<see cref="TransactionClaims"/>) in its partition.</summary>
    public const string RowKey = "decision";

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
    public async Task<DecisionRecord?> GetAsync(string transactionId, CancellationToken cancellationToken = default) =>
        (await GetWithETagAsync(transactionId, cancellationToken))?.Record;

    /// <summary>The recorded decision with its row's ETag (for <see cref="DeleteAsync"/>), or null when none is recorded.</summary>
    public async Task<(DecisionRecord Record, ETag ETag)?> GetWithETagAsync(string transactionId, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(transactionId);
        try
        {
            var response = await table.GetEntityIfExistsAsync<TableEntity>(transactionId, RowKey, cancellationToken: cancellationToken);
            return response.HasValue ? (FromEntity(response.Value!), response.Value!.ETag) : null;
        }
        catch (RequestFailedException ex) when (ex.Status == 404)
        {
            // No table yet: nothing was ever recorded.
            return null;
        }
    }

    /// <summary>
    /// Deletes the transaction's decision record if it is still the row read with <paramref name="etag"/>; a row that is not
    /// there any more (already deleted, no table) or was written again since is left as it is.
    /// </summary>
    /// <remarks>
    /// Only for a transaction whose orchestration has Completed and whose claim is its tombstone (history retention): every
    /// branch that may hold a reservation acknowledged, so no one needs the decision any more. After it returns the row is
    /// gone or was not the one read; after it throws it may or may not be: call it again.
    /// </remarks>
    public async Task DeleteAsync(string transactionId, ETag etag, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(transactionId);
        try
        {
            await table.DeleteEntityAsync(transactionId, RowKey, etag, cancellationToken);
        }
        catch (RequestFailedException ex) when (ex.Status is 404 or 412)
        {
            // Already gone, no table yet, or not the row that was read.
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
