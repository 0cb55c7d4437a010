namespace Serverless.Core.Messaging;

/// <summary>The W3C trace context header a protocol message may carry, so that a transaction is one trace across services.</summary>
public static class TraceParent
{
    /// <summary>A W3C <c>traceparent</c> of version 00: <c>00-</c>, 32 and 16 lower-case hex digits (not all zero), 2 hex digits of flags.</summary>
    public static bool IsValid(string? text) =>
        text is { Length: 55 } && text.StartsWith("00-", StringComparison.Ordinal) && text[35] == '-' && text[52] == '-'
        && IsLowerHex(text.AsSpan(3, 32)) && IsLowerHex(text.AsSpan(36, 16)) && IsLowerHex(text.AsSpan(53, 2))
        && text.AsSpan(3, 32).ContainsAnyExcept('0') && text.AsSpan(36, 16).ContainsAnyExcept('0');

    private static bool IsLowerHex(ReadOnlySpan<char> text)
    {
        foreach (var c in text)
        {
            if (!char.IsAsciiDigit(c) && c is < 'a' or > 'f')
            {
                return false;
            }
        }

        return true;
    }
}
