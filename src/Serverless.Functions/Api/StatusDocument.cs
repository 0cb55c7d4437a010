using Serverless.Core.Protocol;

namespace Serverless.Functions.Api;

/// <summary>The status document of DESIGN.md.</summary>
public sealed record StatusDocument(
    string Id,
    string Status,
    string? Decision,
    string? Reason,
    DateTimeOffset CreatedAt,
    DateTimeOffset? DecidedAt,
    DateTimeOffset? CompletedAt,
    IReadOnlyList<ParticipantStatus> Participants)
{
    public static StatusDocument From(TransactionState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        return new StatusDocument(
            state.Id,
            state.Status.ToString(),
            state.Decision?.ToString(),
            state.Reason,
            state.CreatedAt,
            state.DecidedAt,
            state.CompletedAt,
            [.. state.Branches.Select(b => new ParticipantStatus(b.Participant, b.Vote?.ToString(), b.Reason, b.Outcome?.ToString()))]);
    }
}

/// <summary>One branch in the status document, in request order.</summary>
public sealed record ParticipantStatus(string Participant, string? Vote, string? Reason, string? Outcome);

/// <summary>The answer to a start request: where to follow the transaction.</summary>
public sealed record StartedDocument(string Id, string StatusQueryGetUri, string AbortPostUri);

/// <summary>A page of the listing.</summary>
public sealed record TransactionListDocument(IReadOnlyList<StatusDocument> Items, string? ContinuationToken);
