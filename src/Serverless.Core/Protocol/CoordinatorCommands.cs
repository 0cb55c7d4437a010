namespace Serverless.Core.Protocol;

/// <summary>Something the coordinator must do after it has persisted a step.</summary>
/// <remarks>Every command is safe to execute more than once (I5).</remarks>
public abstract record CoordinatorCommand;

/// <summary>Send a prepare command to a branch's participant.</summary>
public sealed record SendPrepare(int Branch) : CoordinatorCommand;

/// <summary>Run the action of a saga branch: it takes effect at once, and its result is the branch's vote.</summary>
public sealed record RunSagaAction(int Branch) : CoordinatorCommand;

/// <summary>Send a commit command to a branch's participant.</summary>
public sealed record SendCommit(int Branch) : CoordinatorCommand;

/// <summary>Send a rollback command to a branch's participant; for a saga branch, run its compensation.</summary>
public sealed record SendRollback(int Branch) : CoordinatorCommand;

/// <summary>Schedule a durable timer that delivers <see cref="Phase2RetryDue"/> after <paramref name="Delay"/>.</summary>
public sealed record SchedulePhase2Retry(int Attempt, TimeSpan Delay) : CoordinatorCommand;

/// <summary>Schedule the vote-deadline timer again: it fired early (clock skew between instances), and must not be lost (I7).</summary>
public sealed record ScheduleVoteDeadline(TimeSpan Delay) : CoordinatorCommand;

/// <summary>
/// Set the durable timer that delivers <see cref="SagaPhaseTimeLimitPassed"/> at <paramref name="Due"/>, the end of the saga
/// phase's time limit. Issued with every saga action; a timer already set for it is kept.
/// </summary>
public sealed record ScheduleSagaPhaseLimit(DateTimeOffset Due) : CoordinatorCommand;
