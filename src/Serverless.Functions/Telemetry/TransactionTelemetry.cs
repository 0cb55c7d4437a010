using System.Diagnostics;
using System.Diagnostics.Metrics;
using Serverless.Core.Messaging;

namespace Serverless.Functions.Telemetry;

/// <summary>
/// The app's traces and metrics (OpenTelemetry through <see cref="System.Diagnostics"/>): one trace per transaction, from
/// the start request through the orchestration (Durable Task's own spans, source <c>DurableTask.Core</c>), its activities,
/// and every participant's handling of a command (the participant kit's spans, source <c>Serverless.ParticipantKit</c>: the
/// sender's trace context travels in the signed command), and the
/// transaction counters and latency histograms of the <c>Serverless.Transactions</c> meter.
/// </summary>
/// <remarks>
/// Metrics recorded by the orchestration are recorded only when it is not replaying; an episode that runs again after a
/// crash may count twice (metrics are at-least-once, like everything Durable runs).
/// </remarks>
public static class TransactionTelemetry
{
    /// <summary>The name of the app's activity source and meter.</summary>
    public const string Name = "Serverless.Transactions";

    /// <summary>The activity source of Durable Task's orchestration and activity spans (DurableTask.Core).</summary>
    public const string DurableTaskSourceName = "DurableTask.Core";

    /// <summary>The tag naming the transaction on every span of ours (the participant kit's spans use the same).</summary>
    public const string TransactionIdTag = ParticipantKit.ParticipantTelemetry.TransactionIdTag;

    /// <summary>The tag naming the participant on a participant's span and a metric about a branch.</summary>
    public const string ParticipantTag = ParticipantKit.ParticipantTelemetry.ParticipantTag;

    public static readonly ActivitySource Source = new(Name);

    private static readonly Meter Meter = new(Name);

    private static readonly Counter<long> Started = Meter.CreateCounter<long>("transactions.started", "{transaction}", "Transactions started (a repeated start of the same one is not counted).");
    private static readonly Counter<long> Refused = Meter.CreateCounter<long>("transactions.refused", "{start}", "Starts answered 429 by admission control (the engine too far behind for their deadline); nothing was scheduled for them.");
    private static readonly Counter<long> Committed = Meter.CreateCounter<long>("transactions.committed", "{transaction}", "Transactions that ended Committed.");
    private static readonly Counter<long> Aborted = Meter.CreateCounter<long>("transactions.aborted", "{transaction}", "Transactions that ended Aborted.");
    private static readonly Counter<long> Heuristic = Meter.CreateCounter<long>("transactions.heuristic", "{branch}", "Saga compensations that kept failing (a heuristic outcome: an aborted transaction's action still in effect), by participant.");
    private static readonly Counter<long> InDoubt = Meter.CreateCounter<long>("transactions.in_doubt", "{branch}", "Prepared branches in-doubt resolution looked at, by participant.");
    /// <summary>Bucket bounds in seconds, from a fast local transaction to a deadline's worth of waiting.</summary>
    private static readonly InstrumentAdvice<double> Seconds = new()
    {
        HistogramBucketBoundaries = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
    };

    private static readonly Histogram<double> DecisionLatency = Meter.CreateHistogram("transactions.decision.duration", "s", "From the start request to the recorded decision.", tags: null, advice: Seconds);
    private static readonly Histogram<double> EndToEndLatency = Meter.CreateHistogram("transactions.duration", "s", "From the start request to the end of the transaction.", tags: null, advice: Seconds);

    /// <summary>The span of a start request; the transaction's trace begins here (or under the HTTP request's span).</summary>
    public static Activity? StartTransaction(string transactionId, int branches)
    {
        var activity = Source.StartActivity("transaction start", ActivityKind.Internal);
        activity?.SetTag(TransactionIdTag, transactionId);
        activity?.SetTag("transaction.branches", branches);
        return activity;
    }

    /// <summary>The current span's W3C trace context, to put in a message; null outside a span.</summary>
    public static string? CurrentTraceParent =>
        Activity.Current is { IdFormat: ActivityIdFormat.W3C } current && TraceParent.IsValid(current.Id) ? current.Id : null;

    /// <summary><paramref name="message"/> carrying the current trace context, unless it carries one already.</summary>
    public static ProtocolMessage WithTraceParent(ProtocolMessage message)
    {
        ArgumentNullException.ThrowIfNull(message);
        return message.TraceParent is null ? message with { TraceParent = CurrentTraceParent } : message;
    }

    public static void TransactionStarted() => Started.Add(1);

    public static void StartRefused() => Refused.Add(1);

    public static void TransactionDecided(TimeSpan sinceStart) => DecisionLatency.Record(Math.Max(0, sinceStart.TotalSeconds));

    public static void TransactionEnded(bool committed, TimeSpan sinceStart)
    {
        (committed ? Committed : Aborted).Add(1);
        EndToEndLatency.Record(Math.Max(0, sinceStart.TotalSeconds));
    }

    public static void HeuristicOutcome(string participant) => Heuristic.Add(1, new KeyValuePair<string, object?>(ParticipantTag, participant));

    public static void BranchInDoubt(string participant) => InDoubt.Add(1, new KeyValuePair<string, object?>(ParticipantTag, participant));
}
