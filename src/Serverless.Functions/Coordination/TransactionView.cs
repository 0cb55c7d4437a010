using Serverless.Core.Protocol;

namespace Serverless.Functions.Coordination;

/// <summary>
/// What the orchestration publishes as its custom status after every change (and returns as its output): everything the
/// status document shows, so that reading a transaction is one instance read. Operations are left out (they can be large).
/// </summary>
public sealed record TransactionView(
    string Status,
    string? Decision,
    string? Reason,
    DateTimeOffset CreatedAt,
    DateTimeOffset Deadline,
    DateTimeOffset? DecidedAt,
    DateTimeOffset? CompletedAt,
    IReadOnlyList<BranchView> Participants)
{
    /// <summary>Longest reason kept; a participant's reason is free text.</summary>
    public const int MaxReasonLength = 512;

    public bool IsTerminal => Status is nameof(TransactionStatus.Committed) or nameof(TransactionStatus.Aborted);

    public static TransactionView From(TransactionState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        return new TransactionView(
            state.Status.ToString(),
            state.Decision?.ToString(),
            Truncate(state.Reason),
            state.CreatedAt,
            state.Deadline,
            state.DecidedAt,
            state.CompletedAt,
            [.. state.Branches.Select(b => new BranchView(b.Participant, b.Vote?.ToString(), Truncate(b.Reason), b.Outcome?.ToString()))]);
    }

    /// <summary>The view of a transaction whose orchestration has not run yet: preparing, nothing known.</summary>
    public static TransactionView Pending(TransactionRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        return new TransactionView(
            nameof(TransactionStatus.Preparing), null, null, request.CreatedAt, request.Deadline, null, null,
            [.. request.Branches.Select(b => new BranchView(b.Participant, null, null, null))]);
    }

    /// <summary>
    /// The view of a transaction on the fast path whose deciding voter carried it to the end itself (<see cref="TransactionEnd"/>):
    /// what its orchestration shows once it applies that voter's report, built by the same rules from the request, the votes
    /// and the voter's times. Null when the votes do not make it Committed (a vote missing or No).
    /// </summary>
    public static TransactionView? EndedByBranch(TransactionRequest request, IEnumerable<VoteEvent> votes, TransactionEnd end)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(votes);
        ArgumentNullException.ThrowIfNull(end);
        var state = TransactionState.Create(
            request.Id, request.Branches.Select(b => (b.Participant, b.Operation)), request.CreatedAt, TimeSpan.FromSeconds(request.TimeoutSeconds));
        var options = new CoordinatorOptions();
        foreach (var vote in votes.OrderBy(v => v.Branch))
        {
            state = Coordinator.Apply(state, new VoteCast(vote.Branch, vote.Vote, vote.Reason), end.DecidedAt, options).State;
        }

        foreach (var branch in state.Branches.Where(b => b.Vote == Vote.Yes))
        {
            state = Coordinator.Apply(state, new BranchAcknowledged(branch.Index, BranchOutcome.Committed), end.CompletedAt, options).State;
        }

        return state.Status == TransactionStatus.Committed ? From(Ended(state, end)) : null;
    }

    /// <summary>A Committed transaction with the times of the voter that carried it to the end.</summary>
    public static TransactionState Ended(TransactionState state, TransactionEnd end)
    {
        ArgumentNullException.ThrowIfNull(state);
        ArgumentNullException.ThrowIfNull(end);
        return state with { DecidedAt = end.DecidedAt, CompletedAt = end.CompletedAt };
    }

    private static string? Truncate(string? text) => text is { Length: > MaxReasonLength } ? text[..MaxReasonLength] + "…" : text;
}

/// <summary>One branch in <see cref="TransactionView"/>, in request order.</summary>
public sealed record BranchView(string Participant, string? Vote, string? Reason, string? Outcome);
