using Serverless.Functions.Coordination;

namespace Serverless.Functions.Api;

/// <summary>The answer to a start request: where to follow the transaction.</summary>
public sealed record StartedDocument(string Id, string StatusQueryGetUri, string AbortPostUri);

/// <summary>A page of the listing.</summary>
public sealed record TransactionListDocument(IReadOnlyList<TransactionView> Items, string? ContinuationToken);
