namespace Serverless.Core.Protocol;

/// <summary>Timing rules of the coordinator's durable timers.</summary>
public sealed record CoordinatorOptions
{
    /// <summary>Delay before the first phase-2 retry. Default 10 seconds: phase 2 normally ends in milliseconds.</summary>
    public TimeSpan Phase2RetryBase { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Upper bound of the exponential phase-2 retry delay. Default 5 minutes.</summary>
    public TimeSpan Phase2RetryMax { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>
    /// Delay before a transaction still waiting for votes first reads its vote board (the fast path's safety net: a report
    /// the engine discarded or that never came). Default 10 seconds: the votes of a healthy transaction are in long before, and an overloaded system is not loaded more (a transaction whose votes are merely slow reads its board for nothing).
    /// </summary>
    public TimeSpan VoteCheckBase { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>The delay before vote-board check <paramref name="attempt"/> (1-based): <see cref="VoteCheckBase"/> × 2^(attempt−1), capped at <see cref="Phase2RetryMax"/>.</summary>
    public TimeSpan VoteCheckDelay(int attempt) => Backoff(VoteCheckBase, attempt);

    /// <summary>The delay before retry <paramref name="attempt"/> (1-based): base × 2^(attempt−1), capped.</summary>
    public TimeSpan Phase2RetryDelay(int attempt) => Backoff(Phase2RetryBase, attempt);

    private TimeSpan Backoff(TimeSpan first, int attempt)
    {
        var exponent = Math.Clamp(attempt - 1, 0, 20);
        var ticks = Math.Min(first.Ticks * (1L << exponent), Phase2RetryMax.Ticks);
        return TimeSpan.FromTicks(ticks);
    }
}
