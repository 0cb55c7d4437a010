using System.Collections.Immutable;

namespace Serverless.Core.Protocol;

/// <summary>
/// The durable record of a transaction's decision: written once, first writer wins, and never changed. Whoever acts on
/// a decision (the orchestration's phase 2, a one-phase participant, in-doubt resolution) acts on this record's value,
/// not on the value it proposed, which is what keeps the decision single (I2) when an orchestration episode is
/// replayed with its events in another order.
/// </summary>
/// <param name="Decision">The decision.</param>
/// <param name="Reason">Why, for an abort: the first No vote, the deadline, a request, presumed abort.</param>
/// <param name="DecidedAt">When the record was written.</param>
/// <param name="Votes">
/// The votes the decision was taken on, in branch order (null for a branch that had not voted). A Commit carries every
/// vote, so that a replay which adopts it knows which branches to commit and which voted ReadOnly.
/// </param>
public sealed record DecisionRecord(Decision Decision, string? Reason, DateTimeOffset DecidedAt, ImmutableArray<Vote?> Votes)
{
    /// <summary>The record proposed for a state that has just been decided.</summary>
    public static DecisionRecord Of(TransactionState decided)
    {
        ArgumentNullException.ThrowIfNull(decided);
        if (decided.Decision is not { } decision)
        {
            throw new ArgumentException("The transaction is not decided.", nameof(decided));
        }

        return new DecisionRecord(decision, decided.Reason, decided.DecidedAt ?? decided.CreatedAt, [.. decided.Branches.Select(b => b.Vote)]);
    }
}
