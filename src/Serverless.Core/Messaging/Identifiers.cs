namespace Serverless.Core.Messaging;

/// <summary>Validation rules for the identifiers that appear in messages, queue names and table keys.</summary>
public static class Identifiers
{
    /// <summary>Longest transaction id: 64 characters.</summary>
    public const int MaxTransactionIdLength = 64;

    /// <summary>Longest participant name: 40, so that <c>tx-participant-{name}-poison</c> stays a valid queue name.</summary>
    public const int MaxParticipantNameLength = 40;

    /// <summary>Most branches in one transaction.</summary>
    public const int MaxBranches = 64;

    /// <summary>The longest vote deadline a transaction may ask for: 3600 seconds.</summary>
    public const int MaxTimeoutSeconds = 3600;

    /// <summary>True for 1–64 characters of <c>[A-Za-z0-9_-]</c>.</summary>
    public static bool IsValidTransactionId(string? id) =>
        id is { Length: > 0 and <= MaxTransactionIdLength } && id.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '-');

    /// <summary>True for a name usable in a queue name: 1–40 of lower-case letters, digits and single inner hyphens.</summary>
    public static bool IsValidParticipantName(string? name) =>
        name is { Length: > 0 and <= MaxParticipantNameLength }
        && name.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c == '-')
        && name[0] != '-' && name[^1] != '-' && !name.Contains("--", StringComparison.Ordinal);
}
