using System.Text.Json.Serialization;
using Serverless.Core.Messaging;
using Serverless.Core.Participants;
using Serverless.Core.Protocol;

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

/// <summary>The names of the orchestration's external events: replies of participants whose inbox a queue function served.</summary>
public static class TransactionEvents
{
    /// <summary>A participant's vote (<see cref="VoteEvent"/>).</summary>
    public const string Vote = "Vote";

    /// <summary>A participant's phase-2 acknowledgement (<see cref="AckEvent"/>).</summary>
    public const string Ack = "Ack";

    /// <summary>An abort request (<see cref="AbortEvent"/>), raised after the Abort decision was recorded.</summary>
    public const string Abort = "Abort";
}

/// <summary>
/// A vote, as the <c>Prepare</c> activity returns it or an event brings it. A one-phase branch also reports the
/// <paramref name="Decision"/> it recorded itself and, for a Yes, the <paramref name="Outcome"/> it finished with.
/// <paramref name="Participant"/> is the participant that sent it (whose key verified it); the orchestration takes a vote
/// only from its branch's participant.
/// </summary>
public sealed record VoteEvent(int Branch, Vote Vote, string? Reason = null, Decision? Decision = null, BranchOutcome? Outcome = null, string? Participant = null)
{
    public static VoteEvent From(ProtocolMessage reply)
    {
        ArgumentNullException.ThrowIfNull(reply);
        return new VoteEvent(reply.Branch, reply.Vote!.Value, reply.Reason, reply.Decision, reply.Outcome, reply.Participant);
    }
}

/// <summary>A branch executed its phase-2 command; <paramref name="Participant"/> as on <see cref="VoteEvent"/>.</summary>
public sealed record AckEvent(int Branch, BranchOutcome Outcome, string? Participant = null);

/// <summary>A client asked to abort.</summary>
public sealed record AbortEvent(string? Reason = null);

/// <summary>
/// A command for one branch of a transaction: the input of the <c>Prepare</c> activity (and of <c>SagaAction</c>, with
/// <see cref="MessageKind.Prepare"/>: a saga action is its branch's first phase), and the command of a phase-2 activity.
/// </summary>
/// <param name="TransactionId">The transaction.</param>
/// <param name="Kind">Prepare, Commit or Rollback.</param>
/// <param name="Branch">The branch's index in the request.</param>
/// <param name="Participant">The participant, whose inbox is <c>tx-participant-{name}</c>.</param>
/// <param name="Operation">The branch's operation, compact JSON.</param>
/// <param name="OnePhase">A prepare of a transaction's only branch: the participant decides its outcome (one-phase commit).</param>
/// <param name="Key">A saga branch's idempotency key at its service (<see cref="SagaKeys.Of"/>).</param>
public sealed record BranchCommand(string TransactionId, MessageKind Kind, int Branch, string Participant, string Operation, bool OnePhase = false, string? Key = null)
{
    public ProtocolMessage ToMessage() => new(Kind, TransactionId)
    {
        Branch = Branch,
        Participant = Participant,
        Operation = Operation,
        OnePhase = OnePhase,
    };
}

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
