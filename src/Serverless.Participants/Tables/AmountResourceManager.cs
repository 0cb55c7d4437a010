using Azure.Data.Tables;

namespace Serverless.Participants.Tables;

/// <summary>
/// A Table resource manager whose resources are amounts: one row per key (the partition; the row key is the same for all)
/// holding an amount and the part of it that prepared branches hold. Outside the protocol, a resource is set and read by key.
/// </summary>
/// <typeparam name="TOperation">The parsed operation.</typeparam>
/// <param name="table">The table of the resources and the branch records.</param>
/// <param name="row">The row key of every resource.</param>
/// <param name="amount">The property holding the amount (<c>Balance</c>, <c>Stock</c>).</param>
/// <param name="held">The property holding the part prepared branches hold (<c>Held</c>, <c>Reserved</c>).</param>
public abstract class AmountResourceManager<TOperation>(TableClient table, string row, string amount, string held) : TableResourceManager<TOperation>(table)
    where TOperation : class
{
    /// <summary>Reads a resource: its amount and the part held; null when it does not exist.</summary>
    public async Task<(long Amount, long Held)?> GetAsync(string key, CancellationToken cancellationToken = default)
    {
        var response = await Table.GetEntityIfExistsAsync<TableEntity>(key, row, cancellationToken: cancellationToken);
        return response.HasValue ? (GetLong(response.Value!, amount), GetLong(response.Value!, held)) : null;
    }

    /// <summary>Creates a resource or sets its amount; what is held is kept, since it belongs to transactions in flight.</summary>
    public async Task SetAsync(string key, long value, CancellationToken cancellationToken = default) =>
        await Table.UpsertEntityAsync(new TableEntity(key, row) { [amount] = value }, TableUpdateMode.Merge, cancellationToken);
}
