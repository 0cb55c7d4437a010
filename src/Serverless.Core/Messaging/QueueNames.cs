namespace Serverless.Core.Messaging;

/// <summary>The protocol's queues (DESIGN.md): one inbox per participant, the coordinator's inbox, and their poison queues.</summary>
public static class QueueNames
{
    /// <summary>Replies (votes, acknowledgements, in-doubt inquiries) from participants hosted outside the coordinator's app.</summary>
    public const string Coordinator = "tx-coordinator";

    /// <summary>The prefix of every participant inbox: <c>tx-participant-{name}</c>.</summary>
    public const string ParticipantPrefix = "tx-participant-";

    /// <summary>A participant's inbox: prepare, commit, rollback.</summary>
    public static string Participant(string participant) => ParticipantPrefix + participant;

    /// <summary>Where a message goes after it failed too often or could not be trusted.</summary>
    public static string Poison(string queue) => $"{queue}-poison";
}
