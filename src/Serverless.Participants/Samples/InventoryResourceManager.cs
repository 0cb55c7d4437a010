using System.Text.Json;
using Azure.Data.Tables;
using Serverless.Core.Participants;
using Serverless.Participants.Tables;

namespace Serverless.Participants.Samples;

/// <summary>An inventory operation: reserve <see cref="Quantity"/> units of <see cref="Sku"/>, or only check that they are available.</summary>
public sealed record InventoryOperation(string Sku, long Quantity, bool CheckOnly = false);

/// <summary>
/// The sample <c>inventory</c> participant: stock in Table storage (partition = SKU, row "item" with Stock and
/// Reserved). Prepare reserves, commit takes the units out of stock, rollback releases them. A <c>check</c>
/// operation only verifies availability and votes ReadOnly: it takes no part in phase 2.
/// </summary>
public sealed class InventoryResourceManager(TableClient table) : AmountResourceManager<InventoryOperation>(table, ItemRow, "Stock", "Reserved")
{
    public const string ItemRow = "item";

    protected override bool TryParse(JsonElement operation, out InventoryOperation? parsed, out string? error)
    {
        parsed = null;
        var check = IsType(operation, "check");
        if (!check && !IsType(operation, "reserve"))
        {
            error = "'type' must be \"reserve\" or \"check\"";
            return false;
        }

        if (!TryGetKey(operation, "sku", out var sku, out error) || !TryGetAmount(operation, "quantity", out var quantity, out error))
        {
            return false;
        }

        parsed = new InventoryOperation(sku, quantity, check);
        return true;
    }

    protected override (string PartitionKey, string RowKey) ResourceOf(InventoryOperation operation) => (operation.Sku, ItemRow);

    protected override (PrepareResult Vote, bool Changed) Reserve(TableEntity? resource, InventoryOperation op)
    {
        if (resource is null)
        {
            return (PrepareResult.No($"item '{op.Sku}' does not exist"), false);
        }

        if (GetLong(resource, "Stock") - GetLong(resource, "Reserved") < op.Quantity)
        {
            return (PrepareResult.No($"insufficient stock of '{op.Sku}'"), false);
        }

        if (op.CheckOnly)
        {
            return (new PrepareResult(Core.Protocol.Vote.ReadOnly), false);
        }

        resource["Reserved"] = GetLong(resource, "Reserved") + op.Quantity;
        return (PrepareResult.Yes, true);
    }

    protected override bool Apply(TableEntity resource, InventoryOperation op)
    {
        resource["Reserved"] = GetLong(resource, "Reserved") - op.Quantity;
        resource["Stock"] = GetLong(resource, "Stock") - op.Quantity;
        return true;
    }

    protected override bool Release(TableEntity resource, InventoryOperation op)
    {
        resource["Reserved"] = GetLong(resource, "Reserved") - op.Quantity;
        return true;
    }
}
