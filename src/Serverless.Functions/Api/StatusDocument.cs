using Serverless.Functions.Coordination;

namespace Serverless.Functions.Api;

/// <summary>
/// The status document of DESIGN.md, plus <see cref="Deadline"/> (the vote deadline: <c>createdAt</c> + the request's
/// <c>timeoutSeconds</c>), an addition that lets a reader such as the dashboard tell a transaction stuck past it.
/// </summary>
public sealed record StatusDocument(
    string Id,
    string Status,
    string? Decision,
    string? Reason,
    DateTimeOffset CreatedAt,
    DateTimeOffset? DecidedAt,
    DateTimeOffset? CompletedAt,
    IReadOnlyList<ParticipantStatus> Participants,
    DateTimeOffset Deadline)
{
    public static StatusDocument From(string id, TransactionView view)
    {
        ArgumentNullException.ThrowIfNull(view);
        return new StatusDocument(
            id,
            view.Status,
            view.Decision,
            view.Reason,
            view.CreatedAt,
            view.DecidedAt,
            view.CompletedAt,
            [.. view.Participants.Select(b => new ParticipantStatus(b.Participant, b.Vote, b.Reason, b.Outcome, b.Kind, b.Heuristic, b.Key))],
            view.Deadline);
    }
}

/// <summary>
/// One branch in the status document, in request order. Additions to DESIGN.md's document: <see cref="Kind"/> (<c>2pc</c>,
/// <c>tcc</c>, <c>saga</c>; a saga branch's vote is its action's result, its outcome <c>RolledBack</c> once compensated) and
/// <see cref="Heuristic"/>, set while the compensation of a saga branch keeps failing (its action's effect remains), and for a
/// saga branch only <see cref="Key"/>, the idempotency key its action and compensation use at the outside service.
/// </summary>
public sealed record ParticipantStatus(
    string Participant, string? Vote, string? Reason, string? Outcome, string Kind, string? Heuristic,
    [property: System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)] string? Key = null);

/// <summary>The answer to a start request: where to follow the transaction.</summary>
public sealed record StartedDocument(string Id, string StatusQueryGetUri, string AbortPostUri);

/// <summary>A page of the listing.</summary>
public sealed record TransactionListDocument(IReadOnlyList<StatusDocument> Items, string? ContinuationToken);
