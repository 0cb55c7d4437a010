namespace Serverless.Functions.Storage;

/// <summary>The table names of DESIGN.md (the queue names are the protocol's: <see cref="Serverless.Core.Messaging.QueueNames"/>).</summary>
public static class StorageNames
{
    /// <summary>The decision records of a task hub: one row per transaction, written first-writer-wins.</summary>
    public static string DecisionsTable(string taskHub) => $"{taskHub}Decisions";
}
