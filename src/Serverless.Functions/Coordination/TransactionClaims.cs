using Azure;
using Azure.Data.Tables;

namespace Serverless.Functions.Coordination;

/// <summary>What a start found when it claimed its transaction id.</summary>
public enum ClaimOutcome
{
    /// <summary>The id is this request's now: schedule its orchestration.</summary>
    Claimed,

    /// <summary>The id is this same request's already (a repeated start): answer as the first time.</summary>
    SameRequest,

    /// <summary>The id is another request's, or was taken by presumed abort of a transaction the coordinator never started.</summary>
    OtherRequest,

    /// <summary>The id's transaction ended and was purged from the history: its tombstone refuses it for good.</summary>
    Purged,
}

/// <summary>A transaction id's claim: whose it is, and whether its transaction was purged.</summary>
/// <param name="RequestHash">The identity of the request that took the id; empty for an id taken by presumed abort.</param>
/// <param name="Deadline">The vote deadline of that request (or when the presumption took the id).</param>
/// <param name="PurgedAt">When its transaction was purged (the claim is then its tombstone); null while it is in the task hub.</param>
/// <param name="ETag">The row's ETag, for a write conditional on it.</param>
public sealed record TransactionClaim(string RequestHash, DateTimeOffset Deadline, DateTimeOffset? PurgedAt, ETag ETag)
{
    /// <summary>True once the claim is its transaction's tombstone.</summary>
    public bool IsPurged => PurgedAt is not null;

    /// <summary>True for an id taken by presumed abort: no start ever took it.</summary>
    public bool IsPresumedAbort => RequestHash.Length == 0;
}

/// <summary>
/// One claim per transaction id (I9), in the task hub's decision table beside the decision row (row <c>claim</c>): taken by
/// one insert before anything of the transaction is scheduled, never taken again, and turned into the transaction's
/// tombstone when retention purges it. A start that finds the id claimed is the same request again or a conflict; an
/// in-doubt inquiry about an id nobody claimed claims it for its presumed abort, so that no later start can take the id and
/// meet that answer; a decision row that no claim owns (written before claims existed) is deleted when the id is claimed.
/// </summary>
/// <remarks>
/// After a method returns, what it wrote is durable; after it throws it may or may not be: call it again (every method is
/// idempotent). A conflict (409, 412) is the expected outcome of a race and is resolved by reading the row again.
/// </remarks>
public sealed class TransactionClaims(TableClient table)
{
    private const string ClaimRowKey = "claim";

    /// <summary>The tombstone row of a transaction purged before claims existed.</summary>
    private const string LegacyTombstoneRowKey = "purged";

    /// <summary>
    /// Claims <paramref name="transactionId"/> for the request <paramref name="requestHash"/>: one read of the transaction's
    /// rows, then one insert. Returns what it found, and the claim that holds the id when it is not this request's new one.
    /// </summary>
    public async Task<(ClaimOutcome Outcome, TransactionClaim? Holder)> ClaimAsync(
        string transactionId, string requestHash, DateTimeOffset deadline, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(transactionId);
        ArgumentException.ThrowIfNullOrEmpty(requestHash);
        var rows = await RowsAsync(transactionId, cancellationToken);
        if (Find(rows) is { } held)
        {
            return (Classify(held, requestHash), held);
        }

        if (!await TryInsertAsync(transactionId, requestHash, deadline, cancellationToken))
        {
            var holder = await GetAsync(transactionId, cancellationToken) ?? throw new InvalidOperationException($"the claim of '{transactionId}' vanished");
            return (Classify(holder, requestHash), holder);
        }

        // A decision row from before claims existed (a presumed abort answering an inquiry about this id) belongs to no
        // transaction: nothing of this one is scheduled yet, so it is not this one's either.
        if (rows.FirstOrDefault(r => r.RowKey == DecisionStore.RowKey) is { } unowned)
        {
            try
            {
                await table.DeleteEntityAsync(transactionId, DecisionStore.RowKey, unowned.ETag, cancellationToken);
            }
            catch (RequestFailedException ex) when (ex.Status is 404 or 412)
            {
                // Gone already.
            }
        }

        return (ClaimOutcome.Claimed, null);
    }

    /// <summary>Takes <paramref name="transactionId"/> for a presumed abort; false when it is claimed already (read it to see by whom).</summary>
    public Task<bool> TryClaimForPresumedAbortAsync(string transactionId, DateTimeOffset at, CancellationToken cancellationToken = default) =>
        TryInsertAsync(transactionId, string.Empty, at, cancellationToken);

    /// <summary>The claim of <paramref name="transactionId"/> (or the tombstone of a transaction purged before claims existed), or null.</summary>
    public async Task<TransactionClaim?> GetAsync(string transactionId, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(transactionId);
        return Find(await RowsAsync(transactionId, cancellationToken));
    }

    /// <summary>
    /// Turns the claim of <paramref name="transactionId"/> into its tombstone, under the ETag it read (a transaction with no
    /// claim, started before claims existed, gets a tombstone claim). From then on no start takes the id. Idempotent.
    /// </summary>
    public async Task TombstoneAsync(string transactionId, DateTimeOffset purgedAt, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(transactionId);
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                if (await GetAsync(transactionId, cancellationToken) is not { } claim)
                {
                    await table.AddEntityAsync(Row(transactionId, string.Empty, purgedAt, purgedAt), cancellationToken);
                }
                else if (!claim.IsPurged)
                {
                    await table.UpdateEntityAsync(Row(transactionId, claim.RequestHash, claim.Deadline, purgedAt), claim.ETag, TableUpdateMode.Replace, cancellationToken);
                }

                return;
            }
            catch (RequestFailedException ex) when (ex.Status is 409 or 412 && attempt < 3)
            {
                // Claimed or changed since it was read: read it again.
            }
        }
    }

    private async Task<bool> TryInsertAsync(string transactionId, string requestHash, DateTimeOffset deadline, CancellationToken cancellationToken)
    {
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                await table.AddEntityAsync(Row(transactionId, requestHash, deadline, purgedAt: null), cancellationToken);
                return true;
            }
            catch (RequestFailedException ex) when (ex.Status == 409)
            {
                return false;
            }
            catch (RequestFailedException ex) when (ex.Status == 404 && attempt == 0)
            {
                // The table does not exist yet (a new task hub).
                await table.CreateIfNotExistsAsync(cancellationToken);
            }
        }
    }

    /// <summary>Every row of the transaction's partition (its claim, decision, legacy tombstone): one request.</summary>
    private async Task<List<TableEntity>> RowsAsync(string transactionId, CancellationToken cancellationToken)
    {
        try
        {
            List<TableEntity> rows = [];
            await foreach (var row in table.QueryAsync<TableEntity>(e => e.PartitionKey == transactionId, cancellationToken: cancellationToken))
            {
                rows.Add(row);
            }

            return rows;
        }
        catch (RequestFailedException ex) when (ex.Status == 404)
        {
            // No table yet: nothing was ever claimed.
            return [];
        }
    }

    private static TransactionClaim? Find(List<TableEntity> rows)
    {
        if (rows.FirstOrDefault(r => r.RowKey == ClaimRowKey) is { } claim)
        {
            return new TransactionClaim(
                claim.GetString("RequestHash") ?? string.Empty,
                claim.GetDateTimeOffset("Deadline") ?? DateTimeOffset.MinValue,
                claim.GetDateTimeOffset("PurgedAt"),
                claim.ETag);
        }

        return rows.FirstOrDefault(r => r.RowKey == LegacyTombstoneRowKey) is { } tombstone
            ? new TransactionClaim(string.Empty, DateTimeOffset.MinValue, tombstone.GetDateTimeOffset("PurgedAt") ?? DateTimeOffset.MinValue, tombstone.ETag)
            : null;
    }

    private static ClaimOutcome Classify(TransactionClaim holder, string requestHash) =>
        holder.IsPurged ? ClaimOutcome.Purged
        : holder.RequestHash == requestHash ? ClaimOutcome.SameRequest
        : ClaimOutcome.OtherRequest;

    private static TableEntity Row(string transactionId, string requestHash, DateTimeOffset deadline, DateTimeOffset? purgedAt) => new(transactionId, ClaimRowKey)
    {
        ["RequestHash"] = requestHash,
        ["Deadline"] = deadline,
        ["PurgedAt"] = purgedAt,
    };
}
