using System.Collections.Immutable;

namespace Serverless.Core.Protocol;

/// <summary>One participant's part (branch) of a transaction, as the coordinator knows it.</summary>
/// <param name="Index">Position in the request; the branch's identity within the transaction.</param>
/// <param name="Participant">The participant's configured name (its inbox is <c>tx-participant-{name}</c>).</param>
/// <param name="Operation">The opaque operation as compact JSON text.</param>
/// <param name="Vote">The vote once received.</param>
/// <param name="Reason">The participant's reason, usually given with a No vote.</param>
/// <param name="Outcome">The acknowledged phase-2 outcome.</param>
public sealed record BranchState(
    int Index,
    string Participant,
    string Operation,
    Vote? Vote = null,
    string? Reason = null,
    BranchOutcome? Outcome = null)
{
    /// <summary>
    /// True when, under <paramref name="decision"/>, this branch may hold a reservation and has not yet
    /// acknowledged its phase-2 command: a Yes voter under Commit; a Yes voter or a branch that never
    /// voted under Abort (it may have prepared with its vote still in flight).
    /// </summary>
    public bool OwesAcknowledgement(Decision decision) =>
        Outcome is null && (decision == Protocol.Decision.Commit ? Vote == Protocol.Vote.Yes : Vote is null or Protocol.Vote.Yes);
}

/// <summary>The coordinator's durable view of one transaction.</summary>
/// <remarks>
/// Immutable: <see cref="Coordinator"/> returns a new state for every change. The store persists the
/// header fields and the branches together, so a reader never sees a decision without the votes
/// that led to it.
/// </remarks>
public sealed record TransactionState(
    string Id,
    TransactionStatus Status,
    Decision? Decision,
    string? Reason,
    DateTimeOffset CreatedAt,
    DateTimeOffset Deadline,
    DateTimeOffset? DecidedAt,
    DateTimeOffset? CompletedAt,
    ImmutableArray<BranchState> Branches)
{
    /// <summary>Creates a transaction that is about to send its prepare commands.</summary>
    public static TransactionState Create(
        string id,
        IEnumerable<(string Participant, string Operation)> branches,
        DateTimeOffset now,
        TimeSpan voteTimeout)
    {
        ArgumentException.ThrowIfNullOrEmpty(id);
        ArgumentNullException.ThrowIfNull(branches);
        var list = branches.Select((b, i) => new BranchState(i, b.Participant, b.Operation)).ToImmutableArray();
        if (list.IsEmpty)
        {
            throw new ArgumentException("A transaction needs at least one branch.", nameof(branches));
        }

        return new TransactionState(id, TransactionStatus.Preparing, null, null, now, now + voteTimeout, null, null, list);
    }

    /// <summary>True when a decision exists and some branch still owes its acknowledgement.</summary>
    public bool HasPendingPhase2 => Decision is { } d && Branches.Any(b => b.OwesAcknowledgement(d));

    /// <summary>True when every branch has voted.</summary>
    public bool AllVoted => Branches.All(b => b.Vote is not null);
}
