using Serverless.Core.Protocol;

namespace Serverless.Core.Participants;

/// <summary>The state of a branch at a participant.</summary>
public enum BranchPhase
{
    /// <summary>Reserved and voted Yes; waiting for the decision.</summary>
    Prepared,

    /// <summary>Voted No; nothing is reserved.</summary>
    Refused,

    /// <summary>Committed; terminal.</summary>
    Committed,

    /// <summary>Rolled back, or told to roll back before any prepare; terminal.</summary>
    RolledBack,
}

/// <summary>What a participant durably knows of a branch.</summary>
/// <param name="Phase">Where the branch is.</param>
/// <param name="Vote">The vote given, null when a rollback arrived before any prepare.</param>
/// <param name="Reason">The reason given with the vote.</param>
public sealed record BranchRecord(BranchPhase Phase, Vote? Vote, string? Reason = null);

/// <summary>What a resource manager must do with a command, given the branch's record.</summary>
public enum BranchAction
{
    /// <summary>Do the real work (reserve, apply, release) and record the new phase atomically with it.</summary>
    Execute,

    /// <summary>Only record the branch (a rollback before any prepare, I6).</summary>
    RecordOnly,

    /// <summary>Already done: change nothing, answer as before.</summary>
    AlreadyDone,

    /// <summary>The command contradicts the record: change nothing, refuse.</summary>
    Violation,
}

/// <summary>
/// The participant side of the protocol as a pure decision table, shared by every resource manager so that
/// they all treat duplicates, reordering and contradictions the same way.
/// </summary>
public static class ParticipantProtocol
{
    /// <summary>The reason of the No vote given to a prepare that arrives after its branch was rolled back.</summary>
    public const string RolledBackBeforePrepare = "the branch was rolled back before it was prepared";

    public static BranchAction OnPrepare(BranchRecord? record) => record is null ? BranchAction.Execute : BranchAction.AlreadyDone;

    public static BranchAction OnCommit(BranchRecord? record) => record?.Phase switch
    {
        BranchPhase.Prepared => BranchAction.Execute,
        BranchPhase.Committed => BranchAction.AlreadyDone,
        _ => BranchAction.Violation,
    };

    public static BranchAction OnRollback(BranchRecord? record) => record?.Phase switch
    {
        null => BranchAction.RecordOnly,
        BranchPhase.Prepared => BranchAction.Execute,
        BranchPhase.Refused or BranchPhase.RolledBack => BranchAction.AlreadyDone,
        _ => BranchAction.Violation,
    };

    /// <summary>The vote to repeat for a prepare of a branch that already has a record.</summary>
    public static PrepareResult RepeatVote(BranchRecord record)
    {
        ArgumentNullException.ThrowIfNull(record);
        return record.Vote is { } vote ? new PrepareResult(vote, record.Reason) : PrepareResult.No(RolledBackBeforePrepare);
    }
}
