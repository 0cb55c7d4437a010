namespace Serverless.Core.Protocol;

/// <summary>Something that happened to a transaction and that the coordinator must react to.</summary>
public abstract record CoordinatorEvent;

/// <summary>
/// A participant voted on its branch. <paramref name="Participant"/> is who signed the vote, when it came as a message:
/// a vote from any other participant than the branch's is rejected (one key per participant).
/// </summary>
public sealed record VoteCast(int Branch, Vote Vote, string? Reason = null, string? Participant = null) : CoordinatorEvent;

/// <summary>A participant executed the phase-2 command of its branch; <paramref name="Participant"/> as on <see cref="VoteCast"/>.</summary>
public sealed record BranchAcknowledged(int Branch, BranchOutcome Outcome, string? Participant = null) : CoordinatorEvent;

/// <summary>The durable vote-deadline timer fired.</summary>
public sealed record VoteDeadlinePassed : CoordinatorEvent;

/// <summary>The durable timer of the saga phase's time limit (<see cref="CoordinatorOptions.SagaPhaseLimit"/>) fired.</summary>
public sealed record SagaPhaseTimeLimitPassed : CoordinatorEvent;

/// <summary>A client asked to abort.</summary>
public sealed record AbortRequested(string? Reason = null) : CoordinatorEvent;

/// <summary>The durable phase-2 retry timer fired; <paramref name="Attempt"/> counts from 1.</summary>
public sealed record Phase2RetryDue(int Attempt) : CoordinatorEvent;

/// <summary>The compensation of a saga branch failed this time; it is retried on the phase-2 timers until it succeeds.</summary>
public sealed record CompensationFailed(int Branch, string Reason) : CoordinatorEvent;
