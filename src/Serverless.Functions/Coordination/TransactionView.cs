using System.Text.Json.Serialization;
using Serverless.Core.Participants;
using Serverless.Core.Protocol;

namespace Serverless.Functions.Coordination;

/// <summary>
/// The status document of DESIGN.md, as the orchestration publishes it as its custom status after every change (and returns
/// as its output), so that reading a transaction is one instance read, and as the API answers it. Operations are left out
/// (they can be large). An addition to DESIGN.md's document: <see cref="Deadline"/> (the vote deadline: <c>createdAt</c> +
/// the request's <c>timeoutSeconds</c>), which lets a reader such as the dashboard tell a transaction stuck past it.
/// </summary>
public sealed record TransactionView(
    string Id,
    string Status,
    string? Decision,
    string? Reason,
    DateTimeOffset CreatedAt,
    DateTimeOffset? DecidedAt,
    DateTimeOffset? CompletedAt,
    IReadOnlyList<BranchView> Participants,
    DateTimeOffset Deadline)
{
    /// <summary>Longest reason kept; a participant's reason is free text.</summary>
    public const int MaxReasonLength = 512;

    [JsonIgnore]
    public bool IsTerminal => Status is nameof(TransactionStatus.Committed) or nameof(TransactionStatus.Aborted);

    /// <param name="state">The transaction's state.</param>
    /// <param name="sagaNonce">The transaction's <see cref="TransactionRequest.SagaNonce"/>, for its saga branches' keys.</param>
    public static TransactionView From(TransactionState state, string? sagaNonce)
    {
        ArgumentNullException.ThrowIfNull(state);
        return new TransactionView(
            state.Id,
            state.Status.ToString(),
            state.Decision?.ToString(),
            Truncate(state.Reason),
            state.CreatedAt,
            state.DecidedAt,
            state.CompletedAt,
            [.. state.Branches.Select(b => new BranchView(
                b.Participant, b.Vote?.ToString(), Truncate(b.Reason), b.Outcome?.ToString(), b.Kind.ToApiName(), Truncate(b.Heuristic), KeyOf(state.Id, b.Index, b.Kind, sagaNonce)))],
            state.Deadline);
    }

    /// <summary>The view of a transaction whose orchestration has not run yet: preparing, nothing known.</summary>
    public static TransactionView Pending(TransactionRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        return new TransactionView(
            request.Id, nameof(TransactionStatus.Preparing), null, null, request.CreatedAt, null, null,
            [.. request.Branches.Select((b, i) => new BranchView(b.Participant, null, null, null, b.Kind.ToApiName(), null, KeyOf(request.Id, i, b.Kind, request.SagaNonce)))],
            request.Deadline);
    }

    private static string? KeyOf(string id, int branch, BranchKind kind, string? nonce) => kind == BranchKind.Saga ? SagaKeys.Of(id, branch, nonce) : null;

    private static string? Truncate(string? text) => text is { Length: > MaxReasonLength } ? text[..MaxReasonLength] + "…" : text;
}

/// <summary>
/// One branch in the status document, in request order. Additions to DESIGN.md's document: <see cref="Kind"/> (<c>2pc</c>,
/// <c>tcc</c>, <c>saga</c>; a saga branch's vote is its action's result, its outcome <c>RolledBack</c> once compensated) and
/// <see cref="Heuristic"/>, set while the compensation of a saga branch keeps failing (its action's effect remains), and for a
/// saga branch only <see cref="Key"/>, the idempotency key its action and compensation use at the outside service.
/// </summary>
public sealed record BranchView(
    string Participant, string? Vote, string? Reason, string? Outcome, string Kind = "2pc", string? Heuristic = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Key = null);
