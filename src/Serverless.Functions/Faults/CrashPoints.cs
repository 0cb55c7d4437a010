using System.Diagnostics;
using System.Globalization;

namespace Serverless.Functions.Faults;

/// <summary>A step of the protocol at which a crash test can make the process die.</summary>
public enum CrashPoint
{
    /// <summary>The orchestration is scheduled and running, and a <c>Prepare</c> activity has not sent its prepare yet.</summary>
    BeforePrepareSends,

    /// <summary>A prepare is in its participant's inbox (hidden, when this process handles it) and has not been handled.</summary>
    AfterPrepareSent,

    /// <summary>A participant's queue function raised its vote on the orchestration and its inbox message is not yet complete (the orchestrator may not have acted on the vote).</summary>
    AfterVoteRaised,

    /// <summary>A phase-2 activity (or <c>RecordDecision</c>) found the decision record durable and has sent no commit or rollback.</summary>
    AfterDecisionRecorded,

    /// <summary>A commit or rollback is in its participant's inbox (hidden, when this process handles it) and has not been handled.</summary>
    AfterPhase2Sent,

    /// <summary>A participant made its reservation durable (vote Yes) and has not returned or raised its vote.</summary>
    AfterPrepareRecorded,

    /// <summary>A participant applied a commit durably and has not returned or raised its acknowledgement.</summary>
    AfterCommitApplied,

    /// <summary>A <c>SagaAction</c> activity's action took effect at its service and the activity has not returned its result.</summary>
    AfterSagaActionApplied,

    /// <summary>A <c>Compensate</c> activity's compensation took effect at its service and the activity has not returned its result.</summary>
    AfterSagaCompensated,

    /// <summary>
    /// Inside the orchestrator episode that decides: the Durable engine has sent the episode's messages (the work items of
    /// its <c>Commit</c>, <c>Rollback</c> or <c>RecordDecision</c> activities) and has not committed the episode's history. The replay case of I2. Reached
    /// in the Durable engine's own storage traffic, so only a host that runs the engine (the local host) can arm it.
    /// </summary>
    AfterEpisodeMessagesSent,
}

/// <summary>
/// Fault injection for the crash tests: when the environment variable <c>TRANSACTIONS_CRASH_POINT</c> names a
/// <see cref="CrashPoint"/>, the process kills itself (SIGKILL, as <c>kill -9</c> would: no finally block, no flush, no
/// graceful shutdown) the <c>TRANSACTIONS_CRASH_AFTER</c>-th time (default 1) execution reaches that point.
/// </summary>
/// <remarks>
/// Off unless the variable is set, and never set in a deployment; when it is off, <see cref="Reached"/> is one static read.
/// The variables are read once, at first use. An unknown point or a bad count stops the app at start
/// (<see cref="Validate"/>), so that a typo cannot turn a crash test into one that crashes nothing.
/// </remarks>
public static class CrashPoints
{
    /// <summary>The environment variable naming the point to crash at.</summary>
    public const string PointVariable = "TRANSACTIONS_CRASH_POINT";

    /// <summary>The environment variable holding which hit of the point crashes (1 = the first).</summary>
    public const string AfterVariable = "TRANSACTIONS_CRASH_AFTER";

    /// <summary>The start of the line written to stderr just before the process kills itself.</summary>
    public const string CrashLinePrefix = "CRASH POINT";

    private static readonly string? ConfigurationError;
    private static readonly (CrashPoint Point, int After)? Configuration = Read(out ConfigurationError);
    private static int _hits;

    /// <summary>The point this process will crash at, or null when fault injection is off.</summary>
    public static CrashPoint? Armed => Configuration?.Point;

    /// <summary>Throws when the variables are set to something that is not a point or a count.</summary>
    /// <exception cref="InvalidOperationException">The message names the variable and what it may be.</exception>
    public static void Validate()
    {
        if (ConfigurationError is not null)
        {
            throw new InvalidOperationException(ConfigurationError);
        }
    }

    /// <summary>True when <paramref name="point"/> is armed (a host then watches for what only it can see).</summary>
    public static bool IsArmed(CrashPoint point) => Configuration is { } armed && armed.Point == point;

    /// <summary>Kills this process if <paramref name="point"/> is the armed one and this is the configured hit.</summary>
    public static void Reached(CrashPoint point, string? transactionId = null)
    {
        if (Configuration is not { } armed || armed.Point != point)
        {
            return;
        }

        var hit = Interlocked.Increment(ref _hits);
        if (hit < armed.After)
        {
            return;
        }

        if (hit > armed.After)
        {
            // Another thread reached the point while the process is being killed: it must not get any further either.
            Thread.Sleep(Timeout.Infinite);
        }

        Console.Error.WriteLine($"{CrashLinePrefix} {point} reached (hit {hit}, transaction {transactionId ?? "?"}): killing process {Environment.ProcessId}");
        Console.Error.Flush();
        using var self = Process.GetCurrentProcess();
        self.Kill();

        // Kill returns before the signal lands; nothing after the crash point may run.
        Thread.Sleep(Timeout.Infinite);
    }

    private static (CrashPoint, int)? Read(out string? error)
    {
        error = null;
        var name = Environment.GetEnvironmentVariable(PointVariable)?.Trim();
        if (string.IsNullOrEmpty(name))
        {
            return null;
        }

        if (!char.IsAsciiLetter(name[0]) || !Enum.TryParse<CrashPoint>(name, ignoreCase: true, out var point) || !Enum.IsDefined(point))
        {
            error = $"{PointVariable} is '{name}'; it must be one of {string.Join(", ", Enum.GetNames<CrashPoint>())}.";
            return null;
        }

        var afterText = Environment.GetEnvironmentVariable(AfterVariable)?.Trim();
        var after = 1;
        if (!string.IsNullOrEmpty(afterText)
            && (!int.TryParse(afterText, NumberStyles.None, CultureInfo.InvariantCulture, out after) || after < 1))
        {
            error = $"{AfterVariable} is '{afterText}'; it must be a whole number from 1.";
            return null;
        }

        return (point, after);
    }
}
