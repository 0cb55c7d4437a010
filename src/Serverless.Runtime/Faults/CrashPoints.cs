using System.Diagnostics;
using System.Globalization;

namespace Serverless.Runtime.Faults;

/// <summary>A step of the protocol at which a crash test can make the host die.</summary>
public enum CrashPoint
{
    /// <summary>The coordinator wrote a new transaction's record and has sent no prepare yet.</summary>
    AfterTransactionRecorded,

    /// <summary>The coordinator sent one prepare of a transaction and not the others.</summary>
    BetweenPrepareSends,

    /// <summary>The coordinator wrote a decision and has sent no commit or rollback yet.</summary>
    AfterDecisionRecorded,

    /// <summary>The coordinator sent one commit or rollback of a decision and not the others.</summary>
    BetweenPhase2Sends,

    /// <summary>A participant made its prepare durable (reservation and vote recorded) and has not sent the vote.</summary>
    AfterPrepareRecorded,

    /// <summary>A participant applied a commit durably and has not sent the acknowledgement.</summary>
    AfterCommitApplied,
}

/// <summary>
/// Fault injection for crash tests: when <c>TRANSACTIONS_CRASH_POINT</c> names a <see cref="CrashPoint"/>, the
/// process kills itself (SIGKILL, as <c>kill -9</c> would: no finally block, no flush, no graceful shutdown)
/// the <c>TRANSACTIONS_CRASH_AFTER</c>-th time (default 1) execution reaches that point.
/// </summary>
/// <remarks>
/// Off unless the variable is set; when it is not, <see cref="Hit"/> is one static read. The variables are
/// read once, at first use. An unknown point name or a bad count is an error at startup
/// (<see cref="Armed"/> throws), so a typo cannot turn a crash test into one that crashes nothing.
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
    /// <exception cref="InvalidOperationException">The variables are set to something that is not a point or a count.</exception>
    public static CrashPoint? Armed => ConfigurationError is null ? Configuration?.Point : throw new InvalidOperationException(ConfigurationError);

    /// <summary>True when a crash point is armed: callers that send in parallel send one by one, so "between sends" exists.</summary>
    public static bool Enabled => Configuration is not null;

    /// <summary>Kills this process if <paramref name="point"/> is the armed one and this is the configured hit.</summary>
    public static void Hit(CrashPoint point)
    {
        if (Configuration is not { } armed || armed.Point != point)
        {
            return;
        }

        var hit = Interlocked.Increment(ref _hits);
        if (hit != armed.After)
        {
            return;
        }

        Console.Error.WriteLine($"{CrashLinePrefix} {point} reached (hit {hit}): killing process {Environment.ProcessId}");
        Console.Error.Flush();
        using var self = Process.GetCurrentProcess();
        self.Kill();

        // Kill returns before the signal lands; nothing after the crash point may run.
        Thread.Sleep(Timeout.Infinite);
    }

    private static (CrashPoint, int)? Read(out string? error)
    {
        error = null;
        var name = Environment.GetEnvironmentVariable(PointVariable);
        if (string.IsNullOrWhiteSpace(name))
        {
            return null;
        }

        if (!Enum.TryParse<CrashPoint>(name.Trim(), ignoreCase: true, out var point) || !Enum.IsDefined(point) || !char.IsAsciiLetter(name.Trim()[0]))
        {
            error = $"{PointVariable} is '{name}'; it must be one of {string.Join(", ", Enum.GetNames<CrashPoint>())}.";
            return null;
        }

        var afterText = Environment.GetEnvironmentVariable(AfterVariable);
        var after = 1;
        if (!string.IsNullOrWhiteSpace(afterText)
            && (!int.TryParse(afterText.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out after) || after < 1))
        {
            error = $"{AfterVariable} is '{afterText}'; it must be a whole number from 1.";
            return null;
        }

        return (point, after);
    }
}
