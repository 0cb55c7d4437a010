using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Net;
using Serverless.Functions.Telemetry;
using Serverless.LocalHost;
using Serverless.Testing;
using Xunit.Abstractions;

namespace Serverless.Functions.Tests;

/// <summary>
/// One trace per transaction: the start request's span, Durable Task's orchestration and activity spans under it, and every
/// participant's prepare and commit under the activity that sent the command (its trace context travels in the signed
/// message). Collected in-process with an <see cref="ActivityListener"/>, as any OpenTelemetry exporter would see them; and
/// the transaction metrics, in-process and on the local host's Prometheus endpoint.
/// </summary>
public sealed class TelemetryTests(HostFixture fixture, ITestOutputHelper output) : IClassFixture<HostFixture>, IDisposable
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);
    private readonly ConcurrentQueue<Activity> _spans = new();
    private readonly ActivityListener _listener = new()
    {
        ShouldListenTo = source => source.Name is TransactionTelemetry.Name or TransactionTelemetry.DurableTaskSourceName or ParticipantKit.ParticipantTelemetry.SourceName,
        Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
    };

    private TestHost Host => fixture.Host;

    [Fact]
    public async Task ATransfer_IsOneTrace_FromTheStartThroughTheOrchestrationToEveryBranchsPrepareAndCommit()
    {
        _listener.ActivityStopped = _spans.Enqueue;
        ActivitySource.AddActivityListener(_listener);
        var (id, alice, bob) = (TestHost.Id("traced"), TestHost.Id("alice"), TestHost.Id("bob"));
        await Host.PutAccountAsync(alice, 100);
        await Host.PutAccountAsync(bob, 0);

        using var response = await Host.StartAsync(TestHost.Transfer(id, alice, bob, 30), waitSeconds: 30);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);

        var start = await Eventually.WaitAsync(
            () => Task.FromResult(_spans.FirstOrDefault(s => s.OperationName == "transaction start" && (string?)s.GetTagItem(TransactionTelemetry.TransactionIdTag) == id)),
            _ => true,
            Wait,
            "the start request's span");
        var trace = start.TraceId;
        List<Activity> spans = [];
        try
        {
            // Both branches committed (a phase-2 command delivered twice, as at-least-once allows, adds a span of the same
            // branch), and the orchestration's own span, which the engine ends when the instance completes.
            await Eventually.WaitAsync(
                () =>
                {
                    spans = [.. _spans.Where(s => s.TraceId == trace)];
                    return Task.FromResult(Participant(spans, "commit bank").Select(Branch).Distinct().Count() == 2 && spans.Any(IsOrchestration));
                },
                Wait,
                "both branches' commit spans and the orchestration's span in the transaction's trace");
        }
        finally
        {
            foreach (var span in spans.OrderBy(s => s.StartTimeUtc))
            {
                output.WriteLine($"{span.Source.Name,-24} {span.DisplayName,-40} {span.Kind,-8} {span.SpanId} <- {span.ParentSpanId}");
            }
        }

        // Durable's span: the orchestration right under the start. (Its activities are spans of the orchestration's trace
        // too, checked below by the tree.)
        var orchestration = Assert.Single(spans, IsOrchestration);
        Assert.Equal(start.SpanId, orchestration.ParentSpanId);

        // Every branch's prepare and commit, each under the span that sent its command, with what it answered.
        Assert.Equal([0, 1], Participant(spans, "prepare bank").Select(Branch).Distinct().Order());
        Assert.Equal([0, 1], Participant(spans, "commit bank").Select(Branch).Distinct().Order());
        Assert.All(Participant(spans, "prepare bank"), s => Assert.Equal("Yes", s.GetTagItem("transaction.reply")));
        Assert.All(Participant(spans, "commit bank"), s => Assert.Equal("Committed", s.GetTagItem("transaction.reply")));

        // A tree: every span of the trace leads up to the start request's span.
        var byId = spans.ToDictionary(s => s.SpanId);
        foreach (var span in spans.Where(s => s != start))
        {
            var ancestor = span;
            while (ancestor.SpanId != start.SpanId)
            {
                Assert.True(byId.TryGetValue(ancestor.ParentSpanId, out var parent), $"{span.DisplayName}: its ancestor {ancestor.DisplayName} has a parent outside the trace's collected spans");
                ancestor = parent;
            }
        }
    }

    [Fact]
    public async Task TransactionMetrics_CountStartsAndOutcomesAndTimeThem_AndThePrometheusEndpointServesThem()
    {
        var totals = new ConcurrentDictionary<string, double>();
        using var meters = new MeterListener
        {
            InstrumentPublished = (instrument, listener) =>
            {
                if (instrument.Meter.Name == TransactionTelemetry.Name)
                {
                    listener.EnableMeasurementEvents(instrument);
                }
            },
        };
        meters.SetMeasurementEventCallback<long>((instrument, value, _, _) => totals.AddOrUpdate(instrument.Name, value, (_, sum) => sum + value));
        meters.SetMeasurementEventCallback<double>((instrument, _, _, _) => totals.AddOrUpdate(instrument.Name, 1, (_, count) => count + 1));
        meters.Start();
        var (alice, bob) = (TestHost.Id("alice"), TestHost.Id("bob"));
        await Host.PutAccountAsync(alice, 100);
        await Host.PutAccountAsync(bob, 0);

        using var committed = await Host.StartAsync(TestHost.Transfer(TestHost.Id("metered"), alice, bob, 30), waitSeconds: 30);
        using var aborted = await Host.StartAsync(TestHost.Transfer(TestHost.Id("metered"), alice, bob, 1000), waitSeconds: 30);
        Assert.Equal((HttpStatusCode.OK, HttpStatusCode.OK), (committed.StatusCode, aborted.StatusCode));

        // Other tests of this assembly may run transactions meanwhile: at least these two are counted.
        await Eventually.WaitAsync(() => Task.FromResult(totals.GetValueOrDefault("transactions.aborted") >= 1), Wait, "the abort counted");
        Assert.True(totals.GetValueOrDefault("transactions.started") >= 2, $"started: {totals.GetValueOrDefault("transactions.started")}");
        Assert.True(totals.GetValueOrDefault("transactions.committed") >= 1, "a commit counted");
        Assert.True(totals.GetValueOrDefault("transactions.decision.duration") >= 2, "both decisions timed");
        Assert.True(totals.GetValueOrDefault("transactions.duration") >= 2, "both transactions timed");

        var scrape = await Host.Client.GetStringAsync(LocalFunctionsHost.PrometheusPath);
        foreach (var name in new[] { "transactions_started", "transactions_committed", "transactions_aborted", "transactions_duration_seconds_bucket", "serverless_storage_operations" })
        {
            Assert.Contains(name, scrape, StringComparison.Ordinal);
        }

        // Latency buckets in seconds that tell a fast transaction from a slow one (not the SDK's millisecond defaults).
        Assert.Contains("le=\"0.25\"", scrape, StringComparison.Ordinal);
    }

    public void Dispose() => _listener.Dispose();

    private static bool IsOrchestration(Activity span) =>
        span.Source.Name == TransactionTelemetry.DurableTaskSourceName && span.DisplayName.Contains("TwoPhaseCommit", StringComparison.Ordinal)
        && span.Kind == ActivityKind.Server;

    private static List<Activity> Participant(IEnumerable<Activity> spans, string name) =>
        [.. spans.Where(s => s.Source.Name == ParticipantKit.ParticipantTelemetry.SourceName && s.DisplayName == name)];

    private static int Branch(Activity span) => Convert.ToInt32(span.GetTagItem("transaction.branch"), System.Globalization.CultureInfo.InvariantCulture);
}
