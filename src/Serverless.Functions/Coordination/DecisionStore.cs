using System.Collections.Immutable;
using Azure;
using Azure.Data.Tables;
using Serverless.Core.Protocol;

namespace Serverless.Functions.Coordination;

/// <summary>
/// The durable decision records of one task hub (table <c>{hub}Decisions</c>, one partition per transaction: the decision
/// row, and the vote board of <see cref="VoteAsync"/>): the decision written once,
/// first writer wins, never changed. This is what holds I2: the orchestration's phase 2, a one-phase participant, an
/// abort request and in-doubt resolution all record what they propose and then act on what is recorded.
/// </summary>
/// <remarks>
/// <para>After <see cref="RecordAsync"/> returns, the returned record is durable and final. After it throws, the proposed
/// record may or may not have been written: call it again (it is idempotent) before acting on anything.</para>
/// <para>A conflict on insert (409) is the expected outcome of a race, not an error: the earlier record is read and returned.</para>
/// </remarks>
public sealed class DecisionStore(TableClient table)
{
    private const string RowKey = "decision";
    private const string VotePrefix = "vote-";
    private const string EndRowKey = "end";
    private const string WriterProperty = "Writer";

    public TableClient Table => table;

    public Task CreateIfNotExistsAsync(CancellationToken cancellationToken = default) => table.CreateIfNotExistsAsync(cancellationToken);

    /// <summary>Records <paramref name="proposed"/> unless a decision is already recorded; returns the decision that holds.</summary>
    public async Task<DecisionRecord> RecordAsync(string transactionId, DecisionRecord proposed, CancellationToken cancellationToken = default) =>
        (await RecordFirstAsync(transactionId, proposed, cancellationToken)).Recorded;

    /// <summary>
    /// As <see cref="RecordAsync"/>, and says whether this call's insert is the one that recorded it (false: an earlier
    /// record was found, even one equal to the proposal). Only the writer of a record may act as the one who took it.
    /// </summary>
    /// <remarks>
    /// The row carries a token of this call, so that an insert whose response was lost and which the storage client
    /// retried (the retry meets a 409: its own row) is still told it is the writer, instead of leaving nobody to act.
    /// </remarks>
    public Task<(DecisionRecord Recorded, bool Inserted)> RecordFirstAsync(string transactionId, DecisionRecord proposed, CancellationToken cancellationToken = default) =>
        InsertFirstAsync(transactionId, proposed, [], cancellationToken);

    /// <summary>
    /// Inserts <paramref name="proposed"/> unless a decision is recorded, with <paramref name="votes"/> put on the vote board
    /// in the same atomic request (an entity-group transaction on the transaction's partition: all or nothing). On a 409
    /// the recorded row is read: this call inserted it if it carries this call's writer token.
    /// </summary>
    private async Task<(DecisionRecord Recorded, bool Inserted)> InsertFirstAsync(
        string transactionId, DecisionRecord proposed, IReadOnlyCollection<BoardVote> votes, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(transactionId);
        ArgumentNullException.ThrowIfNull(proposed);
        var writer = Guid.NewGuid().ToString("N");
        var row = ToEntity(transactionId, proposed);
        row[WriterProperty] = writer;
        List<TableTransactionAction> actions =
        [
            .. votes.Select(v => new TableTransactionAction(TableTransactionActionType.UpsertReplace, VoteRow(transactionId, v))),
            new TableTransactionAction(TableTransactionActionType.Add, row),
        ];
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                if (votes.Count == 0)
                {
                    await table.AddEntityAsync(row, cancellationToken);
                }
                else
                {
                    await table.SubmitTransactionAsync(actions, cancellationToken);
                }

                return (proposed, true);
            }
            catch (RequestFailedException ex) when (ex.Status == 409)
            {
                if (await GetEntityAsync(transactionId, cancellationToken) is { } found)
                {
                    return (FromEntity(found), found.GetString(WriterProperty) == writer);
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
        return await GetEntityAsync(transactionId, cancellationToken) is { } entity ? FromEntity(entity) : null;
    }

    private async Task<TableEntity?> GetEntityAsync(string transactionId, CancellationToken cancellationToken)
    {
        try
        {
            var response = await table.GetEntityIfExistsAsync<TableEntity>(transactionId, RowKey, cancellationToken: cancellationToken);
            return response.HasValue ? response.Value : null;
        }
        catch (RequestFailedException ex) when (ex.Status == 404)
        {
            // No table yet: nothing was ever recorded.
            return null;
        }
    }

    /// <summary>
    /// Puts a branch's vote on the transaction's vote board (rows of the decision record's partition), then reads the board:
    /// the decision if one is recorded, and every vote on it. A branch writes its vote only once its reservation is durable
    /// (I3), so a board holding a Yes or ReadOnly vote of every branch, and no decision, is a transaction whose votes are all
    /// in: Commit, by the coordinator's rule, unless the deadline has passed. Whoever writes last sees every vote.
    /// </summary>
    /// <remarks>Idempotent: a vote written again replaces itself.</remarks>
    public async Task<VoteBoard> VoteAsync(string transactionId, BoardVote vote, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(transactionId);
        ArgumentNullException.ThrowIfNull(vote);
        var row = VoteRow(transactionId, vote);
        try
        {
            await table.UpsertEntityAsync(row, TableUpdateMode.Replace, cancellationToken);
        }
        catch (RequestFailedException ex) when (ex.Status == 404)
        {
            await table.CreateIfNotExistsAsync(cancellationToken);
            await table.UpsertEntityAsync(row, TableUpdateMode.Replace, cancellationToken);
        }

        return await ReadBoardAsync(transactionId, cancellationToken);
    }

    /// <summary>
    /// Puts <paramref name="votes"/> on the transaction's vote board and records <paramref name="decision"/>, in one atomic
    /// request (an entity-group transaction on the transaction's partition): the votes and the decision are durable
    /// together, or nothing is written. As <see cref="RecordFirstAsync"/>, it returns the decision that holds and whether
    /// this call recorded it (not inserted: nothing was written).
    /// </summary>
    /// <remarks>For voters of one process that hold every vote of a transaction between them (see <c>ParticipantInbox</c>).</remarks>
    public Task<(DecisionRecord Recorded, bool Inserted)> RecordWithVotesAsync(
        string transactionId, IReadOnlyCollection<BoardVote> votes, DecisionRecord decision, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(votes);
        return votes.Count == 0
            ? throw new ArgumentException("at least one vote goes with the decision", nameof(votes))
            : InsertFirstAsync(transactionId, decision, votes, cancellationToken);
    }

    /// <summary>
    /// Records that the voter that recorded Commit carried the transaction to its end itself (every Yes branch committed),
    /// at <paramref name="completedAt"/>: a row of its own beside the decision, which is never changed. From then on a status
    /// read shows the transaction Committed, even before its orchestration applies the voter's report. Idempotent.
    /// </summary>
    public async Task RecordEndAsync(string transactionId, DateTimeOffset completedAt, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(transactionId);
        await table.UpsertEntityAsync(new TableEntity(transactionId, EndRowKey) { ["CompletedAt"] = completedAt }, TableUpdateMode.Replace, cancellationToken);
    }

    /// <summary>The transaction's vote board as it is: the recorded decision, if any, and every vote put on it (none: no table yet).</summary>
    public async Task<VoteBoard> ReadBoardAsync(string transactionId, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(transactionId);
        DecisionRecord? decision = null;
        DateTimeOffset? completedAt = null;
        var votes = new List<BoardVote>();
        try
        {
            await foreach (var entity in table.QueryAsync<TableEntity>(e => e.PartitionKey == transactionId, cancellationToken: cancellationToken))
            {
                if (entity.RowKey == RowKey)
                {
                    decision = FromEntity(entity);
                }
                else if (entity.RowKey == EndRowKey)
                {
                    completedAt = entity.GetDateTimeOffset("CompletedAt");
                }
                else if (entity.RowKey.StartsWith(VotePrefix, StringComparison.Ordinal)
                    && int.TryParse(entity.RowKey.AsSpan(VotePrefix.Length), System.Globalization.CultureInfo.InvariantCulture, out var branch)
                    && Enum.TryParse<Vote>(entity.GetString("Vote"), out var cast))
                {
                    votes.Add(new BoardVote(branch, cast, entity.GetString("Participant") ?? string.Empty, entity.GetString("Operation") ?? string.Empty, entity.GetString("Reason")));
                }
            }
        }
        catch (RequestFailedException ex) when (ex.Status == 404)
        {
            // No table yet: nothing was ever voted or recorded.
        }

        return new VoteBoard(decision, votes) { CompletedAt = completedAt };
    }

    /// <summary>
    /// Deletes the transaction's decision record and its vote board, whatever they hold (no ETag condition: retention
    /// removes the rows as they are). Rows that are not there (never written, already deleted, no table yet) are not an error.
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
            var rows = new List<TableTransactionAction>();
            await foreach (var entity in table.QueryAsync<TableEntity>(e => e.PartitionKey == transactionId, select: ["PartitionKey", "RowKey"], cancellationToken: cancellationToken))
            {
                rows.Add(new TableTransactionAction(TableTransactionActionType.Delete, entity, ETag.All));
            }

            // One batch (one request) per hundred rows of the partition: the record and at most 64 votes.
            foreach (var chunk in rows.Chunk(100))
            {
                await table.SubmitTransactionAsync(chunk, cancellationToken);
            }
        }
        catch (RequestFailedException ex) when (ex.Status == 404)
        {
            // Already gone (a concurrent delete), or no table yet: what is left, if anything, goes at the next call.
        }
    }

    private static TableEntity VoteRow(string transactionId, BoardVote vote) => new(transactionId, VoteRowKey(vote.Branch))
    {
        ["Vote"] = vote.Vote.ToString(),
        ["Participant"] = vote.Participant,
        ["Operation"] = vote.Operation,
        ["Reason"] = vote.Reason,
    };

    private static string VoteRowKey(int branch) => $"{VotePrefix}{branch:D2}";

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

/// <summary>A branch's vote on the board, with what is needed to report it and to finish the branch: its participant, operation and reason.</summary>
public sealed record BoardVote(int Branch, Vote Vote, string Participant, string Operation, string? Reason = null)
{
    /// <summary>Longest operation a board row holds (a table string property holds 64 KiB); a longer one's branch leaves the decision to the coordinator.</summary>
    public const int MaxOperationLength = 30_000;
}

/// <summary>What the board of a transaction holds: the recorded decision, if any, and the votes put on it.</summary>
public sealed record VoteBoard(DecisionRecord? Decision, IReadOnlyList<BoardVote> Votes)
{
    /// <summary>When the voter that recorded Commit carried the transaction to its end itself (<see cref="DecisionStore.RecordEndAsync"/>); null otherwise.</summary>
    public DateTimeOffset? CompletedAt { get; init; }

    /// <summary>The votes as the orchestration's events, one per branch.</summary>
    public IReadOnlyList<VoteEvent> VoteEvents() => [.. Votes.DistinctBy(v => v.Branch).Select(v => new VoteEvent(v.Branch, v.Vote, v.Reason))];

    /// <summary>The end the voter that recorded Commit recorded, if it did.</summary>
    public TransactionEnd? End => Decision is { Decision: Serverless.Core.Protocol.Decision.Commit } d && CompletedAt is { } completed ? new TransactionEnd(d.DecidedAt, completed) : null;
}
