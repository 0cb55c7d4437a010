using System.Collections.Immutable;
using System.Globalization;
using System.Text;
using Azure;
using Azure.Data.Tables;
using Serverless.Core.Protocol;

namespace Serverless.Runtime.Storage;

/// <summary>A transaction as stored: its state, the header's ETag, and the hash of the request that created it.</summary>
/// <remarks>After a write, <see cref="ETag"/> is the header's new ETag, or <c>default</c> when the service did not say.</remarks>
public sealed record StoredTransaction(TransactionState State, ETag ETag, string RequestHash);


/// <summary>A page of transactions, newest first.</summary>
public sealed record TransactionPage(IReadOnlyList<TransactionState> Items, string? ContinuationToken);

/// <summary>
/// The coordinator's checkpoint in Table storage: one partition per transaction, a header row
/// (<c>RowKey = "tx"</c>) and one row per branch (<c>"b00"</c>…), read in one query and changed in one
/// entity-group transaction guarded by the header's ETag.
/// </summary>
/// <remarks>
/// Every write is all-or-nothing (an entity-group transaction). After an exception other than a
/// conflict, the write may or may not be durable: reload before deciding again. The decision is written
/// by <see cref="SaveAsync"/> with the ETag that was read, so two writers can never both record one.
/// </remarks>
public sealed class TransactionStore(TableClient table)
{
    private const string HeaderRow = "tx";

    public TableClient Table => table;

    public Task EnsureCreatedAsync(CancellationToken cancellationToken = default) =>
        table.CreateIfNotExistsAsync(cancellationToken);

    /// <summary>Inserts a new transaction; null when the id is taken.</summary>
    public async Task<StoredTransaction?> CreateAsync(TransactionState state, string requestHash, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(state);
        var actions = new List<TableTransactionAction>(state.Branches.Length + 1)
        {
            new(TableTransactionActionType.Add, ToHeader(state, requestHash)),
        };
        actions.AddRange(state.Branches.Select(b => new TableTransactionAction(TableTransactionActionType.Add, ToBranch(state.Id, b))));
        try
        {
            return Written(await table.SubmitTransactionAsync(actions, cancellationToken), state, requestHash);
        }
        catch (TableTransactionFailedException ex) when (ex.Status == 409)
        {
            return null;
        }
    }

    /// <summary>Reads a transaction in one query; null when unknown.</summary>
    public async Task<StoredTransaction?> LoadAsync(string id, CancellationToken cancellationToken = default)
    {
        TableEntity? header = null;
        var branches = new List<TableEntity>();
        await foreach (var entity in table.QueryAsync<TableEntity>(e => e.PartitionKey == id, maxPerPage: 1000, cancellationToken: cancellationToken))
        {
            if (entity.RowKey == HeaderRow)
            {
                header = entity;
            }
            else
            {
                branches.Add(entity);
            }
        }

        if (header is null)
        {
            return null;
        }

        return new StoredTransaction(FromRows(header, branches), header.ETag, header.GetString("RequestHash") ?? string.Empty);
    }

    /// <summary>
    /// Writes <paramref name="next"/> if the header still has <paramref name="expected"/>; only the header
    /// and the branches that differ from <paramref name="previous"/> are sent. Null when someone else wrote
    /// first (the ETag moved): reload and decide again.
    /// </summary>
    public async Task<StoredTransaction?> SaveAsync(TransactionState previous, TransactionState next, ETag expected, string requestHash, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(previous);
        ArgumentNullException.ThrowIfNull(next);
        var actions = new List<TableTransactionAction>
        {
            new(TableTransactionActionType.UpdateReplace, ToHeader(next, requestHash), expected),
        };
        for (var i = 0; i < next.Branches.Length; i++)
        {
            if (!Equals(previous.Branches[i], next.Branches[i]))
            {
                actions.Add(new TableTransactionAction(TableTransactionActionType.UpsertReplace, ToBranch(next.Id, next.Branches[i])));
            }
        }

        try
        {
            return Written(await table.SubmitTransactionAsync(actions, cancellationToken), next, requestHash);
        }
        catch (TableTransactionFailedException ex) when (ex.Status is 409 or 412)
        {
            return null;
        }
    }

    /// <summary>
    /// Lists transactions newest first. It scans the header rows (the table is partitioned for the
    /// protocol's hot path, one partition per transaction, not for listing) and pages with a keyset token.
    /// </summary>
    public async Task<TransactionPage> ListAsync(TransactionStatus? status, int top, PageToken? after, CancellationToken cancellationToken = default)
    {
        var filter = status is { } s
            ? TableClient.CreateQueryFilter($"RowKey eq {HeaderRow} and Status eq {s.ToString()}")
            : TableClient.CreateQueryFilter($"RowKey eq {HeaderRow}");
        var heads = new List<(DateTimeOffset CreatedAt, string Id)>();
        await foreach (var e in table.QueryAsync<TableEntity>(filter, maxPerPage: 1000, select: ["PartitionKey", "CreatedAt"], cancellationToken: cancellationToken))
        {
            var created = e.GetDateTimeOffset("CreatedAt") ?? DateTimeOffset.MinValue;
            if (after is null || PageToken.Compare(created, e.PartitionKey, after) > 0)
            {
                heads.Add((created, e.PartitionKey));
            }
        }

        var page = heads.OrderByDescending(h => h.CreatedAt).ThenBy(h => h.Id, StringComparer.Ordinal).Take(top + 1).ToList();
        var items = new TransactionState[Math.Min(top, page.Count)];
        await Parallel.ForEachAsync(Enumerable.Range(0, items.Length), new ParallelOptions { MaxDegreeOfParallelism = 16, CancellationToken = cancellationToken }, async (i, ct) =>
        {
            items[i] = (await LoadAsync(page[i].Id, ct))?.State ?? throw new InvalidOperationException($"transaction {page[i].Id} vanished while listing");
        });
        var token = page.Count > top ? new PageToken(page[top - 1].CreatedAt, page[top - 1].Id).Encode() : null;
        return new TransactionPage(items, token);
    }

    /// <summary>The header is the first action of every write, so its new ETag is in the first sub-response.</summary>
    private static StoredTransaction Written(Response<IReadOnlyList<Response>> response, TransactionState state, string requestHash) =>
        new(state, response.Value.Count > 0 && response.Value[0].Headers.ETag is { } etag ? etag : default, requestHash);

    private static TableEntity ToHeader(TransactionState s, string requestHash) => new(s.Id, HeaderRow)
    {
        ["Status"] = s.Status.ToString(),
        ["Decision"] = s.Decision?.ToString(),
        ["Reason"] = s.Reason,
        ["CreatedAt"] = s.CreatedAt,
        ["Deadline"] = s.Deadline,
        ["DecidedAt"] = s.DecidedAt,
        ["CompletedAt"] = s.CompletedAt,
        ["BranchCount"] = s.Branches.Length,
        ["RequestHash"] = requestHash,
    };

    private static TableEntity ToBranch(string id, BranchState b) => new(id, BranchRow(b.Index))
    {
        ["Participant"] = b.Participant,
        ["Operation"] = b.Operation,
        ["Vote"] = b.Vote?.ToString(),
        ["Reason"] = b.Reason,
        ["Outcome"] = b.Outcome?.ToString(),
    };

    private static string BranchRow(int index) => "b" + index.ToString("D2", CultureInfo.InvariantCulture);

    private static TransactionState FromRows(TableEntity header, List<TableEntity> rows)
    {
        var count = header.GetInt32("BranchCount") ?? rows.Count;
        var branches = new BranchState[count];
        foreach (var row in rows)
        {
            var index = int.Parse(row.RowKey.AsSpan(1), CultureInfo.InvariantCulture);
            if (index < count)
            {
                branches[index] = new BranchState(
                    index,
                    row.GetString("Participant") ?? string.Empty,
                    row.GetString("Operation") ?? "{}",
                    ParseEnum<Vote>(row.GetString("Vote")),
                    row.GetString("Reason"),
                    ParseEnum<BranchOutcome>(row.GetString("Outcome")));
            }
        }

        if (branches.Any(b => b is null))
        {
            throw new InvalidOperationException($"transaction {header.PartitionKey} is missing branch rows");
        }

        return new TransactionState(
            header.PartitionKey,
            Enum.Parse<TransactionStatus>(header.GetString("Status")!),
            ParseEnum<Decision>(header.GetString("Decision")),
            header.GetString("Reason"),
            header.GetDateTimeOffset("CreatedAt") ?? default,
            header.GetDateTimeOffset("Deadline") ?? default,
            header.GetDateTimeOffset("DecidedAt"),
            header.GetDateTimeOffset("CompletedAt"),
            [.. branches]);
    }

    private static T? ParseEnum<T>(string? text)
        where T : struct, Enum => text is null ? null : Enum.Parse<T>(text);
}

/// <summary>A keyset position in the newest-first listing: items strictly older than (CreatedAt, Id).</summary>
public sealed record PageToken(DateTimeOffset CreatedAt, string Id)
{
    public string Encode() =>
        Convert.ToBase64String(Encoding.UTF8.GetBytes($"{CreatedAt.UtcTicks.ToString(CultureInfo.InvariantCulture)}:{Id}"))
            .TrimEnd('=').Replace('+', '-').Replace('/', '_');

    public static bool TryDecode(string? text, out PageToken? token)
    {
        token = null;
        if (string.IsNullOrEmpty(text) || text.Length > 200)
        {
            return false;
        }

        try
        {
            var padded = text.Replace('-', '+').Replace('_', '/');
            padded += new string('=', (4 - (padded.Length % 4)) % 4);
            var plain = Encoding.UTF8.GetString(Convert.FromBase64String(padded));
            var colon = plain.IndexOf(':', StringComparison.Ordinal);
            if (colon <= 0 || !long.TryParse(plain.AsSpan(0, colon), NumberStyles.None, CultureInfo.InvariantCulture, out var ticks)
                || ticks > DateTimeOffset.MaxValue.UtcTicks)
            {
                return false;
            }

            var id = plain[(colon + 1)..];
            if (!Serverless.Core.Messaging.Identifiers.IsValidTransactionId(id))
            {
                return false;
            }

            token = new PageToken(new DateTimeOffset(ticks, TimeSpan.Zero), id);
            return true;
        }
        catch (FormatException)
        {
            return false;
        }
    }

    /// <summary>Orders newest first: positive when (createdAt, id) comes after <paramref name="token"/> in the listing.</summary>
    public static int Compare(DateTimeOffset createdAt, string id, PageToken token)
    {
        ArgumentNullException.ThrowIfNull(token);
        var byTime = token.CreatedAt.CompareTo(createdAt);
        return byTime != 0 ? byTime : string.CompareOrdinal(id, token.Id);
    }
}
