using System.Text.Json;
using Azure.Data.Tables;

namespace Serverless.Participants.Tables;

/// <summary>Reading an operation's fields and a resource row's values, for the participants built on this class.</summary>
public abstract partial class TableResourceManager<TOperation>
{
    /// <summary>Reads a positive whole amount (minor units, at most 10^15) from an operation.</summary>
    protected static bool TryGetAmount(JsonElement operation, string name, out long amount, out string? error)
    {
        amount = 0;
        error = null;
        if (!operation.TryGetProperty(name, out var value) || value.ValueKind != JsonValueKind.Number || !value.TryGetInt64(out amount) || amount <= 0 || amount > 1_000_000_000_000_000)
        {
            error = $"'{name}' must be a positive whole number up to 10^15";
            return false;
        }

        return true;
    }

    /// <summary>Reads a resource id: 1–64 characters, none of the characters Table storage forbids in keys.</summary>
    protected static bool TryGetKey(JsonElement operation, string name, out string key, out string? error)
    {
        key = string.Empty;
        error = null;
        if (!operation.TryGetProperty(name, out var value) || value.ValueKind != JsonValueKind.String || !IsValidKey(value.GetString()))
        {
            error = $"'{name}' must be 1-64 letters, digits, '-', '_' or '.'";
            return false;
        }

        key = value.GetString()!;
        return true;
    }

    /// <summary>True for a usable resource id (accounts, SKUs).</summary>
    public static bool IsValidKey(string? key) =>
        key is { Length: > 0 and <= 64 } && key.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.');

    /// <summary>Reads an Int64 property of a resource row (0 when absent).</summary>
    protected static long GetLong(TableEntity entity, string name)
    {
        ArgumentNullException.ThrowIfNull(entity);
        return entity.GetInt64(name) ?? 0;
    }

    /// <summary>True when an operation's "type" property equals <paramref name="type"/>.</summary>
    protected static bool IsType(JsonElement operation, string type) =>
        operation.ValueKind == JsonValueKind.Object && operation.TryGetProperty("type", out var t) && t.ValueKind == JsonValueKind.String && t.GetString() == type;
}
