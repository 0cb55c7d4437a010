using Serverless.Core.Protocol;

namespace Serverless.Core.Messaging;

/// <summary>The kinds of message on the protocol's queues.</summary>
public enum MessageKind
{
    /// <summary>Coordinator to participant: reserve what the operation needs and vote.</summary>
    Prepare,

    /// <summary>Coordinator to participant: apply the prepared branch.</summary>
    Commit,

    /// <summary>Coordinator to participant: release the branch, or remember it must never prepare (I6).</summary>
    Rollback,

    /// <summary>Participant to coordinator: the branch's vote.</summary>
    Vote,

    /// <summary>Participant to coordinator: the phase-2 command was executed.</summary>
    Ack,

    /// <summary>Participant to coordinator: an in-doubt branch asks for the decision.</summary>
    Inquiry,
}

/// <summary>One protocol message. Which optional fields are required depends on <see cref="Kind"/>.</summary>
/// <remarks>
/// Receivers tolerate duplicates, reordering and redelivery (I5): every message names the transaction and
/// branch it is about, and its effect is decided against the durable state of that branch.
/// </remarks>
public sealed record ProtocolMessage(MessageKind Kind, string TransactionId)
{
    /// <summary>The wire format version this code writes and accepts.</summary>
    public const int CurrentVersion = 1;

    /// <summary>The branch index; -1 for messages about the whole transaction.</summary>
    public int Branch { get; init; } = -1;

    /// <summary>The participant's name (commands and inquiries).</summary>
    public string? Participant { get; init; }

    /// <summary>The branch's operation as compact JSON (commands and inquiries).</summary>
    public string? Operation { get; init; }

    /// <summary>The vote (<see cref="MessageKind.Vote"/>).</summary>
    public Vote? Vote { get; init; }

    /// <summary>A human-readable reason, for a vote.</summary>
    public string? Reason { get; init; }

    /// <summary>The executed outcome (<see cref="MessageKind.Ack"/>, and the vote of a one-phase branch).</summary>
    public BranchOutcome? Outcome { get; init; }

    /// <summary>
    /// On a <see cref="MessageKind.Prepare"/>: the branch is the transaction's only one, so the participant decides
    /// (one-phase commit): it records the decision its vote implies, first writer wins, and finishes the branch by the
    /// recorded decision, with no second message.
    /// </summary>
    public bool OnePhase { get; init; }

    /// <summary>
    /// On a <see cref="MessageKind.Vote"/> of a one-phase branch: the decision the branch recorded itself, first writer wins,
    /// and finished its branch by (<see cref="Outcome"/>).
    /// </summary>
    public Decision? Decision { get; init; }

    /// <summary>
    /// The W3C <c>traceparent</c> of the span that sent the message (<c>00-{trace id}-{span id}-{flags}</c>), so that the
    /// receiver's work joins the transaction's trace. Covered by the signature like every other field; optional.
    /// </summary>
    public string? TraceParent { get; init; }

    public static ProtocolMessage Command(MessageKind kind, string transactionId, BranchState branch)
    {
        ArgumentNullException.ThrowIfNull(branch);
        return new(kind, transactionId) { Branch = branch.Index, Participant = branch.Participant, Operation = branch.Operation };
    }
}
