namespace Serverless.Crash.Tests;

/// <summary>
/// The steps at which the home-made engine could make its host kill itself (its <c>TRANSACTIONS_CRASH_POINT</c>), kept
/// here so that the switched-off <see cref="CrashPointTests"/> still read as they did until they are mapped onto the
/// Durable app. The local Functions host reads none of this: setting the variables changes nothing.
/// </summary>
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

/// <summary>The old engine's fault-injection variables and crash line (see <see cref="CrashPoint"/>).</summary>
public static class CrashPoints
{
    /// <summary>The environment variable that named the point to crash at.</summary>
    public const string PointVariable = "TRANSACTIONS_CRASH_POINT";

    /// <summary>The environment variable that held which hit of the point crashed (1 = the first).</summary>
    public const string AfterVariable = "TRANSACTIONS_CRASH_AFTER";

    /// <summary>The start of the line the old host wrote to stderr just before it killed itself.</summary>
    public const string CrashLinePrefix = "CRASH POINT";

    /// <summary>Why the tests that need a crash point are switched off.</summary>
    public const string Gone =
        "Crash points (TRANSACTIONS_CRASH_POINT) belonged to the home-made durable engine, which is gone: the local Functions host " +
        "cannot kill itself at a protocol step any more. Re-mapping these crash points onto the Durable app is a later issue.";
}
