using System.Collections.Immutable;

namespace Serverless.Core.Protocol;

/// <summary>How an event related to the state it was applied to.</summary>
public enum StepKind
{
    /// <summary>The event changed the state; persist it before executing the commands.</summary>
    Applied,

    /// <summary>The event was already reflected in the state (a duplicate or redelivery); nothing to persist.</summary>
    Duplicate,

    /// <summary>The event does not apply to this state (too early, unknown branch, contradicts a recorded fact).</summary>
    Rejected,
}

/// <summary>The result of applying one event: the next state and the commands to execute after persisting it.</summary>
public sealed record CoordinatorStep(
    TransactionState State,
    StepKind Kind,
    ImmutableArray<CoordinatorCommand> Commands,
    string? Detail = null)
{
    /// <summary>True when <see cref="State"/> differs from the state the event was applied to.</summary>
    public bool Changed => Kind == StepKind.Applied;
}
