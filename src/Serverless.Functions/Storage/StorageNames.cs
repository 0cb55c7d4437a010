namespace Serverless.Functions.Storage;

/// <summary>The queue and table names of DESIGN.md.</summary>
public static class StorageNames
{
    /// <summary>Replies (votes, acknowledgements, in-doubt inquiries) from participants hosted outside this app.</summary>
    public const string CoordinatorQueue = "tx-coordinator";

    /// <summary>The prefix of every participant inbox: <c>tx-participant-{name}</c>.</summary>
    public const string ParticipantQueuePrefix = "tx-participant-";

    /// <summary>A participant's inbox: prepare, commit, rollback.</summary>
    public static string ParticipantQueue(string participant) => ParticipantQueuePrefix + participant;

    /// <summary>Where a message goes after it failed too often or could not be trusted.</summary>
    public static string PoisonQueue(string queue) => $"{queue}-poison";

    /// <summary>The decision records of a task hub: one row per transaction, written first-writer-wins.</summary>
    public static string DecisionsTable(string taskHub) => $"{taskHub}Decisions";
}
