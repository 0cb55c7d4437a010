using System.Text.Json;

namespace Serverless.Participants.MySql;

/// <summary>The <c>ledger</c> operation: <c>{"type":"debit"|"credit","account":id,"amount":n}</c>, as for <c>bank</c>.</summary>
/// <param name="IsDebit">True for a debit, false for a credit.</param>
/// <param name="Account">The account, 1–64 of letters, digits, '-', '_' and '.'.</param>
/// <param name="Amount">Minor units, 1 to 10^15.</param>
public sealed record LedgerOperation(bool IsDebit, string Account, long Amount)
{
    /// <summary>Largest amount of one operation, and largest balance a PUT may set.</summary>
    public const long MaxAmount = 1_000_000_000_000_000;

    /// <summary>Reads and validates an operation; false with a reason naming the bad field.</summary>
    public static bool TryParse(JsonElement operation, out LedgerOperation? parsed, out string? error)
    {
        parsed = null;
        var type = operation.ValueKind == JsonValueKind.Object && operation.TryGetProperty("type", out var t) && t.ValueKind == JsonValueKind.String
            ? t.GetString()
            : null;
        if (type is not ("debit" or "credit"))
        {
            error = "'type' must be \"debit\" or \"credit\"";
            return false;
        }

        if (!operation.TryGetProperty("account", out var a) || a.ValueKind != JsonValueKind.String || !IsValidAccount(a.GetString()))
        {
            error = "'account' must be 1-64 letters, digits, '-', '_' or '.'";
            return false;
        }

        if (!operation.TryGetProperty("amount", out var n) || n.ValueKind != JsonValueKind.Number || !n.TryGetInt64(out var amount)
            || amount is <= 0 or > MaxAmount)
        {
            error = "'amount' must be a positive whole number up to 10^15";
            return false;
        }

        parsed = new LedgerOperation(type == "debit", a.GetString()!, amount);
        error = null;
        return true;
    }

    /// <summary>True for 1–64 of letters, digits, '-', '_' and '.'.</summary>
    public static bool IsValidAccount(string? account) =>
        account is { Length: > 0 and <= 64 } && account.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.');
}
