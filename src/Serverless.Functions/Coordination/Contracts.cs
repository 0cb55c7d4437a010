using System.Text.Json.Serialization;
using Serverless.Core.Messaging;
using Serverless.Core.Protocol;

namespace Serverless.Functions.Coordination;

/// <summary>The orchestration's input: a validated start request.</summary>
/// <param name="Id">The transaction id, also the orchestration's instance id.</param>
/// <param name="TimeoutSeconds">The vote deadline, from <paramref name="CreatedAt"/>.</param>
/// <param name="Branches">The branches in request order.</param>
/// <param name="RequestHash">The identity of the request, so that a repeated start can be told from a different one.</param>
/// <param name="CreatedAt">When the start request was accepted.</param>
public sealed record TransactionRequest(string Id, int TimeoutSeconds, IReadOnlyList<BranchRequest> Branches, string RequestHash, DateTimeOffset CreatedAt)
{
    [JsonIgnore]
    public DateTimeOffset Deadline => CreatedAt.AddSeconds(TimeoutSeconds);

    /// <summary>The start request sends the prepares (the fast path), not the orchestration.</summary>
    public bool PreparesSent { get; init; }

    /// <summary>
    /// The fast path's prepare of every branch: in a transaction of several branches each names how many there are and the
    /// deadline, so that the voter that completes the vote board can decide; a single branch commits in one phase.
    /// </summary>
    public IReadOnlyList<BranchCommand> FastPathPrepares() => [.. Branches.Select((b, i) => Branches.Count == 1
        ? new BranchCommand(MessageKind.Prepare, i, b.Participant, b.Operation, OnePhase: true)
        : new BranchCommand(MessageKind.Prepare, i, b.Participant, b.Operation, Branches: Branches.Count, Deadline: Deadline))];
}

/// <summary>One branch of a start request: the participant and its opaque operation as compact JSON.</summary>
public sealed record BranchRequest(string Participant, string Operation);

/// <summary>The names of the orchestration's external events.</summary>
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
/// A vote. A branch that recorded the decision itself (a one-phase branch, or the branch whose Yes completed the votes on
/// the fast path) also reports the <paramref name="Decision"/> and, for a Yes, the <paramref name="Outcome"/> it finished
/// with; it has sent the phase-2 commands of every other branch.
/// </summary>
public sealed record VoteEvent(int Branch, Vote Vote, string? Reason = null, Decision? Decision = null, BranchOutcome? Outcome = null)
{
    /// <summary>On the fast path, the votes of the other branches, read from the vote board by the branch that completed it.</summary>
    public IReadOnlyList<VoteEvent>? Others { get; init; }

    /// <summary>With <see cref="Decision"/> Commit: other branches this branch committed itself (their participants run in its app).</summary>
    public IReadOnlyList<int>? Finished { get; init; }

    /// <summary>With <see cref="Decision"/> Commit, when this branch committed every Yes branch itself: the transaction ended, at these times.</summary>
    public TransactionEnd? Ended { get; init; }

    public static VoteEvent From(ProtocolMessage reply)
    {
        ArgumentNullException.ThrowIfNull(reply);
        return new VoteEvent(reply.Branch, reply.Vote!.Value, reply.Reason, reply.Decision, reply.Outcome);
    }
}

/// <summary>
/// When a transaction on the fast path that its deciding voter carried to the end itself (it recorded Commit and committed
/// every Yes branch in its process) was decided and completed, by that voter's clock: the times its status shows, wherever
/// and whenever it is read (the answer to the start's <c>waitSeconds</c>, a status read before the orchestration applied the
/// report, the orchestration's own output).
/// </summary>
public sealed record TransactionEnd(DateTimeOffset DecidedAt, DateTimeOffset CompletedAt);

/// <summary>A branch executed its phase-2 command.</summary>
public sealed record AckEvent(int Branch, BranchOutcome Outcome);

/// <summary>A client asked to abort.</summary>
public sealed record AbortEvent(string? Reason = null);

/// <summary>A command for one branch, as an activity sends it (<paramref name="Branches"/> and <paramref name="Deadline"/>: see <see cref="ProtocolMessage.Branches"/>).</summary>
public sealed record BranchCommand(
    MessageKind Kind, int Branch, string Participant, string Operation, bool OnePhase = false, int? Branches = null, DateTimeOffset? Deadline = null)
{
    public ProtocolMessage ToMessage(string transactionId) => new(Kind, transactionId)
    {
        Branch = Branch,
        Participant = Participant,
        Operation = Operation,
        OnePhase = OnePhase,
        Branches = Branches,
        Deadline = Deadline,
    };
}

/// <summary>The input of the <c>SendCommands</c> activity.</summary>
public sealed record SendCommandsInput(string TransactionId, IReadOnlyList<BranchCommand> Commands);

/// <summary>
/// What the <c>ReadVoteBoard</c> activity found: the recorded decision, if any, and the votes on the transaction's vote
/// board (without their operations: the orchestration knows them).
/// </summary>
public sealed record VoteBoardView(DecisionRecord? Decision, IReadOnlyList<VoteEvent> Votes)
{
    /// <summary>The end the voter that recorded Commit recorded, having committed every Yes branch itself (<see cref="VoteBoard.End"/>); null otherwise.</summary>
    public TransactionEnd? End { get; init; }
}

/// <summary>The input of the <c>RecordDecision</c> activity: the decision proposed, and the phase-2 commands to send if it is the one recorded.</summary>
public sealed record RecordDecisionInput(string TransactionId, DecisionRecord Proposed, IReadOnlyList<BranchCommand> Phase2);
