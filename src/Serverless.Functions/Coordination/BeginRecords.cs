using System.IO.Compression;
using System.Text.Json;
using Azure;
using Azure.Data.Tables;

namespace Serverless.Functions.Coordination;

/// <summary>A begin record: a transaction's request, kept outside its instance until the transaction ended.</summary>
/// <param name="Id">The transaction id.</param>
/// <param name="Request">The transaction's request, as its orchestration's input; null when the row cannot be read.</param>
/// <param name="ETag">The row's ETag, for a delete conditional on it.</param>
public sealed record BeginRecord(string Id, TransactionRequest? Request, ETag ETag);

/// <summary>
/// The coordinator's begin records (partition <c>.begun</c> of the task hub's decision table, one row per transaction): the
/// request of every transaction with a branch that only the coordinator can finish, a saga branch (its compensation) or a
/// participant over HTTP (which never asks about a branch it holds), written before anything of it is scheduled and deleted
/// once it ended with its outcome. Its instance holds the request too, but an operator may purge an instance that failed or
/// was terminated before the run that finishes it started (<see cref="EndedTransactions"/>); the begin record is then what
/// that run is started from, so that no compensation is abandoned (I10). Branches whose participant asks about them (queue
/// participants, this app's own) are finished by in-doubt resolution without it.
/// </summary>
/// <remarks>
/// The partition's name cannot be a transaction id (ids have no dot), so it never meets a transaction's claim and decision.
/// The request is kept as GZip-compressed UTF-8 JSON in binary properties of at most 64 KiB each (<c>Request</c>,
/// <c>Request1</c>, …): a start body of up to 256 KiB fits in a row. Every method is idempotent.
/// </remarks>
public sealed class BeginRecords(TableClient table)
{
    /// <summary>The partition of begin records.</summary>
    public const string PartitionKey = ".begun";

    /// <summary>The most bytes of one binary property of a table row.</summary>
    private const int ChunkBytes = 64 * 1024;

    /// <summary>Whether a transaction of <paramref name="request"/> needs a begin record: it has a branch that only the coordinator can finish.</summary>
    public static bool IsNeededFor(TransactionRequest request, Func<string, bool> isHttp)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(isHttp);
        return request.Branches.Any(b => b.Kind == Serverless.Core.Protocol.BranchKind.Saga || isHttp(b.Participant));
    }

    /// <summary>
    /// Writes the begin record of <paramref name="request"/> unless its transaction has one: one insert. Returns the request
    /// that holds: this one, or the one an earlier start of the same request wrote (a repeated start after the first stopped
    /// before scheduling), whose creation time and saga keys the orchestration must then use.
    /// </summary>
    public async Task<TransactionRequest> BeginAsync(TransactionRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        var row = new TableEntity(PartitionKey, request.Id) { ["Deadline"] = request.Deadline };
        var packed = Pack(request);
        for (var i = 0; i * ChunkBytes < packed.Length; i++)
        {
            row[i == 0 ? "Request" : $"Request{i}"] = packed.AsSpan(i * ChunkBytes, Math.Min(ChunkBytes, packed.Length - (i * ChunkBytes))).ToArray();
        }

        for (var attempt = 0; ; attempt++)
        {
            try
            {
                await table.AddEntityAsync(row, cancellationToken);
                return request;
            }
            catch (RequestFailedException ex) when (ex.Status == 409)
            {
                var held = await table.GetEntityIfExistsAsync<TableEntity>(PartitionKey, request.Id, cancellationToken: cancellationToken);
                return held.HasValue && Unpack(held.Value!) is { } first && first.RequestHash == request.RequestHash ? first : request;
            }
            catch (RequestFailedException ex) when (ex.Status == 404 && attempt == 0)
            {
                // The table does not exist yet (a new task hub).
                await table.CreateIfNotExistsAsync(cancellationToken);
            }
        }
    }

    /// <summary>The begin records of transactions whose vote deadline is before <paramref name="before"/>, oldest deadline first within a page.</summary>
    public async IAsyncEnumerable<BeginRecord> PastDeadlineAsync(DateTimeOffset before, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var rows = table.QueryAsync<TableEntity>(TableClient.CreateQueryFilter($"PartitionKey eq {PartitionKey} and Deadline lt {before}"), cancellationToken: cancellationToken);
        await using var enumerator = rows.GetAsyncEnumerator(cancellationToken);
        while (true)
        {
            try
            {
                if (!await enumerator.MoveNextAsync())
                {
                    yield break;
                }
            }
            catch (RequestFailedException ex) when (ex.Status == 404)
            {
                // No table yet: nothing was ever begun.
                yield break;
            }

            var row = enumerator.Current;
            yield return new BeginRecord(row.RowKey, Unpack(row), row.ETag);
        }
    }

    /// <summary>Deletes the begin record read as <paramref name="record"/>, unless it was written again since (a repeated start).</summary>
    public async Task DeleteAsync(BeginRecord record, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(record);
        try
        {
            await table.DeleteEntityAsync(PartitionKey, record.Id, record.ETag, cancellationToken);
        }
        catch (RequestFailedException ex) when (ex.Status is 404 or 412)
        {
            // Already gone, or written again since it was read: the next pass reads it again.
        }
    }

    private static byte[] Pack(TransactionRequest request)
    {
        using var buffer = new MemoryStream();
        using (var gzip = new GZipStream(buffer, CompressionLevel.Fastest))
        {
            JsonSerializer.Serialize(gzip, request);
        }

        return buffer.ToArray();
    }

    private static TransactionRequest? Unpack(TableEntity row)
    {
        using var buffer = new MemoryStream();
        for (var i = 0; row.GetBinary(i == 0 ? "Request" : $"Request{i}") is { } chunk; i++)
        {
            buffer.Write(chunk);
        }

        buffer.Position = 0;
        try
        {
            using var gzip = new GZipStream(buffer, CompressionMode.Decompress);
            return JsonSerializer.Deserialize<TransactionRequest>(gzip) is { } request && request.Id == row.RowKey ? request : null;
        }
        catch (Exception ex) when (ex is InvalidDataException or JsonException)
        {
            return null;
        }
    }
}
