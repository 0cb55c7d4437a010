using System.Text.Json.Serialization;
using Serverless.Core.Participants;
using Serverless.Core.Protocol;
using Serverless.Functions.Participants;

namespace Serverless.Functions.Coordination;

/// <summary>The orchestration's input: a validated start request.</summary>
/// <param name="Id">The transaction id, also the orchestration's instance id.</param>
/// <param name="TimeoutSeconds">The vote deadline, from <paramref name="CreatedAt"/>.</param>
/// <param name="Branches">The branches in request order.</param>
/// <param name="RequestHash">The identity of the request, so that a repeated start can be told from a different one.</param>
/// <param name="CreatedAt">When the start request was accepted.</param>
/// <param name="SagaNonce">The random part of the idempotency keys of its saga branches (<see cref="SagaKeys.Of"/>); null without saga branches.</param>
/// <param name="Finishing">
/// Set on the input of a run that finishes what an ended run owes (<see cref="EndedTransactions"/>): how that run ended
/// ("was terminated"). Null for a transaction's first run.
/// </param>
public sealed record TransactionRequest(
    string Id, int TimeoutSeconds, IReadOnlyList<BranchRequest> Branches, string RequestHash, DateTimeOffset CreatedAt, string? SagaNonce = null, string? Finishing = null)
{
    [JsonIgnore]
    public DateTimeOffset Deadline => CreatedAt.AddSeconds(TimeoutSeconds);
}

/// <summary>One branch of a start request: the participant, its opaque operation as compact JSON, and how it takes part.</summary>
public sealed record BranchRequest(string Participant, string Operation, BranchKind Kind = BranchKind.TwoPhase);

/// <summary>
/// The input of the <c>Commit</c> and <c>Rollback</c> activities: the decision the orchestration proposes, recorded first
/// writer wins before the command leaves, and the command, sent only if the recorded decision is the proposed one.
/// </summary>
public sealed record Phase2Input(DecisionRecord Proposed, BranchCommand Command);

/// <summary>
/// What a phase-2 activity did: the decision it found recorded (the one the orchestration carries out), and the branch's
/// outcome when its participant ran in this process (null: the command is in the inbox, and its acknowledgement comes as
/// an event; or the recorded decision is not the proposed one, and nothing was sent). A saga compensation that failed
/// says why in <paramref name="Failure"/>: the decision is recorded all the same, and the compensation is retried.
/// </summary>
public sealed record Phase2Result(DecisionRecord Recorded, BranchOutcome? Outcome, string? Failure = null);

/// <summary>The input of the <c>RecordDecision</c> activity: a decision whose phase 2 sends nothing (no branch holds a reservation).</summary>
public sealed record RecordDecisionInput(string TransactionId, DecisionRecord Proposed);
