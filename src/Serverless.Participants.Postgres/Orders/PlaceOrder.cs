using System.Text.Json;

namespace Serverless.Participants.Postgres;

/// <summary>The <c>orders</c> operation: <c>{"type":"place","orderId":id,"sku":id,"quantity":n,"customer":id}</c>.</summary>
/// <param name="OrderId">The order's id, unique: placing it twice votes No.</param>
/// <param name="Sku">The item ordered.</param>
/// <param name="Quantity">How many, 1 to 1,000,000.</param>
/// <param name="Customer">Who ordered.</param>
public sealed record PlaceOrder(string OrderId, string Sku, int Quantity, string Customer)
{
    /// <summary>Largest quantity of one order.</summary>
    public const int MaxQuantity = 1_000_000;

    /// <summary>Reads and validates an operation; false with a reason naming the bad field.</summary>
    public static bool TryParse(JsonElement operation, out PlaceOrder? order, out string? error)
    {
        order = null;
        if (operation.ValueKind != JsonValueKind.Object)
        {
            error = "the operation must be a JSON object";
            return false;
        }

        if (!operation.TryGetProperty("type", out var type) || type.ValueKind != JsonValueKind.String || type.GetString() != "place")
        {
            error = "'type' must be \"place\"";
            return false;
        }

        if (!TryGetId(operation, "orderId", out var orderId, out error)
            || !TryGetId(operation, "sku", out var sku, out error)
            || !TryGetId(operation, "customer", out var customer, out error))
        {
            return false;
        }

        if (!operation.TryGetProperty("quantity", out var q) || q.ValueKind != JsonValueKind.Number
            || !q.TryGetInt32(out var quantity) || quantity is <= 0 or > MaxQuantity)
        {
            error = $"'quantity' must be a whole number from 1 to {MaxQuantity}";
            return false;
        }

        order = new PlaceOrder(orderId, sku, quantity, customer);
        return true;
    }

    /// <summary>True for 1–64 of letters, digits, '-', '_' and '.'.</summary>
    public static bool IsValidId(string? id) =>
        id is { Length: > 0 and <= 64 } && id.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.');

    private static bool TryGetId(JsonElement operation, string name, out string value, out string? error)
    {
        value = string.Empty;
        if (!operation.TryGetProperty(name, out var p) || p.ValueKind != JsonValueKind.String || !IsValidId(p.GetString()))
        {
            error = $"'{name}' must be 1-64 letters, digits, '-', '_' or '.'";
            return false;
        }

        value = p.GetString()!;
        error = null;
        return true;
    }
}

/// <summary>A committed order.</summary>
/// <param name="OrderId">The order's id.</param>
/// <param name="Sku">The item ordered.</param>
/// <param name="Quantity">How many.</param>
/// <param name="Customer">Who ordered.</param>
/// <param name="TransactionId">The transaction that placed it.</param>
/// <param name="PlacedAt">When it was prepared.</param>
public sealed record Order(string OrderId, string Sku, int Quantity, string Customer, string TransactionId, DateTimeOffset PlacedAt);
