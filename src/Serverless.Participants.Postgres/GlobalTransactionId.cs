using System.Globalization;
using Serverless.Core.Messaging;
using Serverless.Core.Participants;

namespace Serverless.Participants.Postgres;

/// <summary>
/// The global transaction id (gid) under which a branch is <c>PREPARE TRANSACTION</c>-ed:
/// <c>{participant}:tx:{transactionId}:{branch}</c>.
/// </summary>
/// <remarks>
/// Gids are unique per PostgreSQL server (not per database), so the participant name is part of them: two
/// participants sharing a server need distinct names. Every part is restricted to characters that need no
/// quoting, and transaction ids contain no ':', so a gid parses back unambiguously. The longest one is
/// 40 + 4 + 64 + 1 + 2 = 111 bytes, under PostgreSQL's limit of 200.
/// </remarks>
internal static class GlobalTransactionId
{
    public static string Prefix(string participant) => participant + ":tx:";

    public static string Format(string participant, BranchKey branch)
    {
        if (!Identifiers.IsValidTransactionId(branch.TransactionId))
        {
            throw new ArgumentException($"'{branch.TransactionId}' is not a valid transaction id.", nameof(branch));
        }

        if (branch.Branch is < 0 or >= Identifiers.MaxBranches)
        {
            throw new ArgumentOutOfRangeException(nameof(branch), branch.Branch, $"A branch index is 0-{Identifiers.MaxBranches - 1}.");
        }

        return $"{Prefix(participant)}{branch.TransactionId}:{branch.Branch.ToString(CultureInfo.InvariantCulture)}";
    }

    public static bool TryParse(string participant, string gid, out BranchKey branch)
    {
        branch = default;
        var prefix = Prefix(participant);
        if (!gid.StartsWith(prefix, StringComparison.Ordinal))
        {
            return false;
        }

        var rest = gid.AsSpan(prefix.Length);
        var colon = rest.LastIndexOf(':');
        if (colon <= 0)
        {
            return false;
        }

        var transactionId = rest[..colon].ToString();
        if (!Identifiers.IsValidTransactionId(transactionId)
            || !int.TryParse(rest[(colon + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out var index)
            || index >= Identifiers.MaxBranches)
        {
            return false;
        }

        branch = new BranchKey(transactionId, index);
        return true;
    }

    /// <summary>The gid as an SQL string literal (PREPARE/COMMIT/ROLLBACK PREPARED take no parameters).</summary>
    public static string Literal(string gid) => "'" + gid.Replace("'", "''", StringComparison.Ordinal) + "'";
}
