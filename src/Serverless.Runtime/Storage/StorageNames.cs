namespace Serverless.Runtime.Storage;

/// <summary>
/// The queue and table names of DESIGN.md, with an optional prefix that isolates several deployments
/// (or tests) sharing one storage account. The default prefix is empty: the names are exactly the contract's.
/// </summary>
public sealed record StorageNames
{
    public StorageNames(string prefix = "")
    {
        ArgumentNullException.ThrowIfNull(prefix);
        if (prefix.Length > 12 || !prefix.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c)) || (prefix.Length > 0 && !char.IsAsciiLetter(prefix[0])))
        {
            throw new ArgumentException("The storage prefix is 0–12 lower-case letters and digits, starting with a letter.", nameof(prefix));
        }

        Prefix = prefix;
    }

    public string Prefix { get; }

    /// <summary>The coordinator's inbox: votes, acknowledgements, deadlines, retry timers.</summary>
    public string CoordinatorQueue => $"{Prefix}tx-coordinator";

    /// <summary>The table of transaction checkpoints, one partition per transaction.</summary>
    public string TransactionsTable => $"{Prefix}Transactions";

    /// <summary>A participant's inbox: prepare, commit, rollback.</summary>
    public string ParticipantQueue(string participant) => $"{Prefix}tx-participant-{participant}";

    /// <summary>Where a message goes after it failed too often or could not be trusted.</summary>
    public static string PoisonQueue(string queue) => $"{queue}-poison";

    /// <summary>A table owned by a sample participant.</summary>
    public string ParticipantTable(string name) => $"{Prefix}{name}";
}
