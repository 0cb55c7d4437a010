using System.Globalization;
using System.Text;
using Serverless.Core.Messaging;
using Serverless.Core.Participants;

namespace Serverless.Participants.MySql;

/// <summary>
/// The XA transaction id (xid) of a branch: gtrid = the transaction id, bqual = <c>{participant}:{branch}</c>,
/// formatID = <see cref="FormatId"/>, the mark of this library.
/// </summary>
/// <remarks>
/// XA ids are unique per server, so the participant name is part of them: two participants sharing a server need
/// distinct names. The formatID lets <c>XA RECOVER</c> tell this library's branches from other XA users' on the same
/// server, which are never touched. Every part is restricted to characters that need no quoting (gtrid ≤ 64 bytes of
/// <c>[A-Za-z0-9_-]</c>, bqual ≤ 40 + 1 + 2 bytes), under MySQL's limits of 64 bytes each.
/// </remarks>
/// <param name="Gtrid">The global transaction id: the transaction id.</param>
/// <param name="Bqual">The branch qualifier: <c>{participant}:{branch}</c>.</param>
internal sealed record XaId(string Gtrid, string Bqual)
{
    /// <summary>The formatID of every xid of this library: "2PCx" read as a big-endian number.</summary>
    public const int FormatId = 0x32504378;

    public static XaId Of(string participant, BranchKey branch)
    {
        if (!Identifiers.IsValidTransactionId(branch.TransactionId))
        {
            throw new ArgumentException($"'{branch.TransactionId}' is not a valid transaction id.", nameof(branch));
        }

        if (branch.Branch is < 0 or >= Identifiers.MaxBranches)
        {
            throw new ArgumentOutOfRangeException(nameof(branch), branch.Branch, $"A branch index is 0-{Identifiers.MaxBranches - 1}.");
        }

        return new XaId(branch.TransactionId, $"{participant}:{branch.Branch.ToString(CultureInfo.InvariantCulture)}");
    }

    /// <summary>
    /// Reads a row of <c>XA RECOVER</c> (formatID, gtrid_length, bqual_length, data) back into the branch of
    /// <paramref name="participant"/>; false for another library's or another participant's xid.
    /// </summary>
    public static bool TryParse(string participant, int formatId, int gtridLength, int bqualLength, byte[] data, out BranchKey branch)
    {
        branch = default;
        if (formatId != FormatId || gtridLength < 1 || bqualLength < 1 || gtridLength + bqualLength != data.Length)
        {
            return false;
        }

        var gtrid = Encoding.ASCII.GetString(data, 0, gtridLength);
        var bqual = Encoding.ASCII.GetString(data, gtridLength, bqualLength);
        var prefix = participant + ":";
        if (!Identifiers.IsValidTransactionId(gtrid) || !bqual.StartsWith(prefix, StringComparison.Ordinal)
            || !int.TryParse(bqual.AsSpan(prefix.Length), NumberStyles.None, CultureInfo.InvariantCulture, out var index)
            || index >= Identifiers.MaxBranches)
        {
            return false;
        }

        branch = new BranchKey(gtrid, index);
        return true;
    }

    /// <summary>The xid as XA statements take it: <c>'gtrid','bqual',formatID</c> (XA statements take no parameters).</summary>
    public string Sql => $"{Literal(Gtrid)},{Literal(Bqual)},{FormatId.ToString(CultureInfo.InvariantCulture)}";

    public override string ToString() => $"{Gtrid},{Bqual},{FormatId}";

    private static string Literal(string value) =>
        "'" + value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("'", "''", StringComparison.Ordinal) + "'";
}
