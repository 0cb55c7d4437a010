using System.Collections.Immutable;

namespace Serverless.Core.Protocol;

/// <summary>One participant's part (branch) of a transaction, as the coordinator knows it.</summary>
/// <param name="Index">Position in the request; the branch's identity within the transaction.</param>
/// <param name="Participant">The participant's configured name (its inbox is <c>tx-participant-{name}</c>).</param>
/// <param name="Operation">The opaque operation as compact JSON text.</param>
/// <param name="Vote">The vote once received.</param>
/// <param name="Reason">The participant's reason, usually given with a No vote.</param>
/// <param name="Outcome">The acknowledged phase-2 outcome; for a saga branch, Committed at a Commit decision, RolledBack once compensated.</param>
/// <param name="Kind">How the branch takes part. A saga branch's vote is its action's result: Yes applied, No not applied.</param>
/// <param name="CompensationFailures">How many times the compensation of this saga branch failed.</param>
/// <param name="Heuristic">
/// Set while a saga branch's compensation keeps failing (<see cref="CoordinatorOptions.HeuristicAfterFailures"/> times
/// or more): its action's effect remains although the transaction aborted. Cleared once the compensation succeeds.
/// </param>
public sealed record BranchState(
    int Index,
    string Participant,
    string Operation,
    Vote? Vote = null,
    string? Reason = null,
    BranchOutcome? Outcome = null,
    BranchKind Kind = BranchKind.TwoPhase,
    int CompensationFailures = 0,
    string? Heuristic = null)
{
    public bool IsSaga => Kind == BranchKind.Saga;

    /// <summary>
    /// True when, under <paramref name="decision"/>, this branch may hold a reservation or an effect and has not yet
    /// acknowledged its phase-2 command: a Yes voter under Commit; under Abort, a Yes voter or a branch that never voted
    /// (it may have prepared with its vote still in flight), and every saga branch (its action may have run whatever
    /// this run saw: the compensation undoes it, or cancels it before it arrives). A saga branch owes nothing under
    /// Commit: its action took effect before the decision.
    /// </summary>
    public bool OwesAcknowledgement(Decision decision) => Outcome is null && (decision == Protocol.Decision.Commit
        ? !IsSaga && Vote == Protocol.Vote.Yes
        : IsSaga || Vote is null or Protocol.Vote.Yes);
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
    /// <summary>Creates a transaction of two-phase-commit branches that is about to send its prepare commands.</summary>
    public static TransactionState Create(
        string id,
        IEnumerable<(string Participant, string Operation)> branches,
        DateTimeOffset now,
        TimeSpan voteTimeout)
    {
        ArgumentNullException.ThrowIfNull(branches);
        return Create(id, branches.Select(b => (b.Participant, b.Operation, BranchKind.TwoPhase)), now, voteTimeout);
    }

    /// <summary>Creates a transaction that is about to send its prepare commands (or its first saga action).</summary>
    public static TransactionState Create(
        string id,
        IEnumerable<(string Participant, string Operation, BranchKind Kind)> branches,
        DateTimeOffset now,
        TimeSpan voteTimeout)
    {
        ArgumentException.ThrowIfNullOrEmpty(id);
        ArgumentNullException.ThrowIfNull(branches);
        var list = branches.Select((b, i) => new BranchState(i, b.Participant, b.Operation, Kind: b.Kind)).ToImmutableArray();
        if (list.IsEmpty)
        {
            throw new ArgumentException("A transaction needs at least one branch.", nameof(branches));
        }

        // Without a prepared branch the first saga action is among the start commands: the saga phase begins now.
        return new TransactionState(id, TransactionStatus.Preparing, null, null, now, now + voteTimeout, null, null, list)
        {
            SagaPhaseStartedAt = list.All(b => b.IsSaga) ? now : null,
        };
    }

    /// <summary>
    /// When the saga phase began: the time, by the clock of the caller that applied the event, at which the first saga action
    /// was issued. Null until then, and for a transaction without saga branches. Set once; the saga phase's time limit
    /// (<see cref="CoordinatorOptions.SagaPhaseLimit"/>) counts from it.
    /// </summary>
    public DateTimeOffset? SagaPhaseStartedAt { get; init; }

    /// <summary>True when a decision exists and some branch still owes its acknowledgement.</summary>
    public bool HasPendingPhase2 => Decision is { } d && Branches.Any(b => b.OwesAcknowledgement(d));

    /// <summary>True when every branch has voted.</summary>
    public bool AllVoted => Branches.All(b => b.Vote is not null);

    /// <summary>
    /// The saga branch whose action runs now: the first saga branch without a result, once every prepared branch voted
    /// (and, Preparing, every earlier saga action was applied). Null when none runs.
    /// </summary>
    public BranchState? CurrentSagaAction => Status == TransactionStatus.Preparing && Branches.All(b => b.IsSaga || b.Vote is not null)
        ? Branches.FirstOrDefault(b => b.IsSaga && b.Vote is null)
        : null;
}
