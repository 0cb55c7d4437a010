using System.Globalization;

namespace Serverless.Core.Protocol;

/// <summary>What the coordinator knows of a transaction with no recorded decision, when a participant asks about one of its branches.</summary>
public enum UndecidedTransaction
{
    /// <summary>No orchestration, and no start took the id (in-doubt resolution takes it for the presumption).</summary>
    NeverStarted,

    /// <summary>No orchestration; the id was taken by an earlier presumed abort.</summary>
    TakenByPresumedAbort,

    /// <summary>No orchestration; a start claimed the id and may schedule it until its vote deadline.</summary>
    ClaimedByAStart,

    /// <summary>It ended and was purged: its claim is the tombstone, and every branch of it acknowledged.</summary>
    Purged,

    /// <summary>Its orchestration ended (completed, failed or terminated) without a decision.</summary>
    Ended,

    /// <summary>Its orchestration runs (or its input cannot be read, and then its deadline is not known).</summary>
    Running,
}

/// <summary>
/// Presumed abort (I4), the rule in-doubt resolution answers by when no decision is recorded: a transaction that can no
/// longer decide is aborted, with a reason naming why; one that still may decide is waited for (I3). The vote deadline is
/// the coordinator's own: past it, a transaction still undecided is aborted, as the orchestration aborts it
/// (<see cref="VoteDeadlinePassed"/>).
/// </summary>
public static class PresumedAbort
{
    /// <summary>
    /// The reason of the Abort presumed for a transaction in the state <paramref name="known"/>, or null while it may still
    /// decide. <paramref name="deadline"/> is its vote deadline (of its request, or its start's claim) when known;
    /// <paramref name="ended"/> how its orchestration ended; <paramref name="purgedAt"/> when it was purged.
    /// </summary>
    public static string? Reason(UndecidedTransaction known, DateTimeOffset now, DateTimeOffset? deadline = null, string? ended = null, DateTimeOffset? purgedAt = null) => known switch
    {
        UndecidedTransaction.NeverStarted or UndecidedTransaction.TakenByPresumedAbort => "presumed abort: the coordinator has no record of the transaction",
        UndecidedTransaction.Purged => $"presumed abort: the transaction ended and was purged at {Format(purgedAt)}",
        UndecidedTransaction.Ended => $"presumed abort: the orchestration ended {ended} without a decision",
        UndecidedTransaction.ClaimedByAStart when now > deadline =>
            $"presumed abort: its start claimed it, but no orchestration runs it, and its vote deadline passed at {Format(deadline)}",
        UndecidedTransaction.Running when now > deadline => $"presumed abort: the vote deadline passed at {Format(deadline)} and no decision followed",
        _ => null,
    };

    /// <summary>Whether the presumption is recorded: not for a purged transaction, of which nothing may be recorded again.</summary>
    public static bool IsRecorded(UndecidedTransaction known) => known != UndecidedTransaction.Purged;

    private static string Format(DateTimeOffset? at) => at?.ToString("o", CultureInfo.InvariantCulture) ?? "an unknown time";
}
