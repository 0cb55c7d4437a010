using Serverless.Core.Messaging;
using Serverless.Core.Protocol;

namespace Serverless.Functions.Messaging;

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
