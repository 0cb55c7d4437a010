using Serverless.Core.Participants;
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

    /// <param name="state">The transaction's state.</param>
    /// <param name="sagaNonce">The transaction's <see cref="TransactionRequest.SagaNonce"/>, for its saga branches' keys.</param>
    public static TransactionView From(TransactionState state, string? sagaNonce)
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
            [.. state.Branches.Select(b => new BranchView(
                b.Participant, b.Vote?.ToString(), Truncate(b.Reason), b.Outcome?.ToString(), b.Kind.ToApiName(), Truncate(b.Heuristic), KeyOf(state.Id, b.Index, b.Kind, sagaNonce)))]);
    }

    /// <summary>The view of a transaction whose orchestration has not run yet: preparing, nothing known.</summary>
    public static TransactionView Pending(TransactionRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        return new TransactionView(
            nameof(TransactionStatus.Preparing), null, null, request.CreatedAt, request.Deadline, null, null,
            [.. request.Branches.Select((b, i) => new BranchView(b.Participant, null, null, null, b.Kind.ToApiName(), null, KeyOf(request.Id, i, b.Kind, request.SagaNonce)))]);
    }

    private static string? KeyOf(string id, int branch, BranchKind kind, string? nonce) => kind == BranchKind.Saga ? SagaKeys.Of(id, branch, nonce) : null;

    private static string? Truncate(string? text) => text is { Length: > MaxReasonLength } ? text[..MaxReasonLength] + "…" : text;
}

/// <summary>
/// One branch in <see cref="TransactionView"/>, in request order: its kind (<c>2pc</c>, <c>tcc</c>, <c>saga</c>) and, while a
/// saga compensation keeps failing, the heuristic outcome; for a saga branch, the idempotency key its action and
/// compensation use at the outside service.
/// </summary>
public sealed record BranchView(string Participant, string? Vote, string? Reason, string? Outcome, string Kind = "2pc", string? Heuristic = null, string? Key = null);
