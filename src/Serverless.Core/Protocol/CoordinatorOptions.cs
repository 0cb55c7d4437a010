namespace Serverless.Core.Protocol;

/// <summary>Timing rules of the coordinator's durable timers.</summary>
public sealed record CoordinatorOptions
{
    /// <summary>Delay before the first phase-2 retry. Default 10 seconds: phase 2 normally ends in milliseconds.</summary>
    public TimeSpan Phase2RetryBase { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Upper bound of the exponential phase-2 retry delay. Default 5 minutes.</summary>
    public TimeSpan Phase2RetryMax { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>
    /// After how many failures a saga branch's compensation is reported as a heuristic outcome (the transaction aborted,
    /// the action's effect remains until a retry succeeds). Default 3.
    /// </summary>
    public int HeuristicAfterFailures { get; init; } = 3;

    /// <summary>
    /// How long the saga actions may take, from the start of the first to the decision. The prepared branches hold their
    /// reservations or locks while the actions run, so this bounds that time more tightly than the vote deadline (up to an
    /// hour) does: a transaction still preparing when it passes aborts, and every saga branch is compensated. The earlier of
    /// the two decides. Default 10 seconds.
    /// </summary>
    public TimeSpan SagaPhaseLimit { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>The delay before retry <paramref name="attempt"/> (1-based): base × 2^(attempt−1), capped.</summary>
    public TimeSpan Phase2RetryDelay(int attempt)
    {
        var exponent = Math.Clamp(attempt - 1, 0, 20);
        var ticks = Math.Min(Phase2RetryBase.Ticks * (1L << exponent), Phase2RetryMax.Ticks);
        return TimeSpan.FromTicks(ticks);
    }
}
