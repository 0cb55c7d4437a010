using System.Globalization;
using System.Text;

namespace Serverless.Bench;

/// <summary>
/// The product against the textbook Durable 2PC at one concurrency: the phase <c>cN</c> and the phase <c>textbook-cN</c>
/// that ran right after it on the same host, Azurite and settings.
/// </summary>
/// <param name="Concurrency">The phases' concurrency.</param>
/// <param name="Product">The product's phase.</param>
/// <param name="Textbook">The textbook's phase.</param>
public sealed record Comparison(int Concurrency, PhaseResult Product, PhaseResult Textbook)
{
    /// <summary>Committed per second, product over textbook (above 1: the product commits faster); NaN when the textbook committed none.</summary>
    public double ThroughputRatio => Ratio(Product.Load.CommittedPerSecond, Textbook.Load.CommittedPerSecond);

    /// <summary>Median latency, product over textbook (below 1: the product answers sooner).</summary>
    public double P50Ratio => Ratio(Product.Load.Percentile(50), Textbook.Load.Percentile(50));

    /// <summary>The pairs among <paramref name="phases"/>: each 2-branch product transfer phase with no aborts that has a textbook twin.</summary>
    public static IReadOnlyList<Comparison> Pairs(IReadOnlyList<PhaseResult> phases)
    {
        ArgumentNullException.ThrowIfNull(phases);
        static bool Transfer(PhaseResult p, Orchestration o) => p.Scenario is { Branches: 2, AbortShare: 0 } && p.Scenario.Orchestration == o;
        return [.. phases.Where(p => Transfer(p, Orchestration.Product))
            .Select(p => (Product: p, Textbook: phases.FirstOrDefault(t => Transfer(t, Orchestration.Textbook) && t.Scenario.Concurrency == p.Scenario.Concurrency)))
            .Where(pair => pair.Textbook is not null)
            .Select(pair => new Comparison(pair.Product.Scenario.Concurrency, pair.Product, pair.Textbook!))];
    }

    /// <summary>
    /// Storage requests per committed transaction (all of the phase's requests, timers drained, over its committed
    /// transactions only): the cost of a commit, whatever the phase's aborts cost besides.
    /// </summary>
    public static OpCounts PerCommitted(PhaseResult phase)
    {
        ArgumentNullException.ThrowIfNull(phase);
        return phase.Load.Committed == 0 ? OpCounts.Zero : phase.Total.Per((double)phase.Load.Committed / phase.Load.Finished);
    }

    /// <summary>The comparison block of the printed report; empty when no pair ran.</summary>
    public static string Table(IReadOnlyList<Comparison> pairs)
    {
        ArgumentNullException.ThrowIfNull(pairs);
        if (pairs.Count == 0)
        {
            return string.Empty;
        }

        var s = new StringBuilder();
        s.AppendLine("product vs textbook Durable 2PC: 2-branch transfers, same engine, host, Azurite, host.json and bank participant; storage requests per committed transaction (timers drained)");
        s.AppendLine("    c | coordinator | commit/s  p50 ms  p95 ms  p99 ms |  send  recv   del  read write  blob other  total | product/textbook: throughput  p50");
        foreach (var pair in pairs)
        {
            s.AppendLine(Row(pair.Concurrency.ToString(CultureInfo.InvariantCulture), "product", pair.Product, string.Empty));
            s.AppendLine(Row(string.Empty, "textbook", pair.Textbook, string.Create(CultureInfo.InvariantCulture, $"{pair.ThroughputRatio,29:0.00} {pair.P50Ratio,4:0.00}")));
        }

        return s.ToString();
    }

    /// <summary>The comparison as the JSON report writes it.</summary>
    public object ToJson() => new
    {
        concurrency = Concurrency,
        product = Side(Product),
        textbook = Side(Textbook),
        throughputProductOverTextbook = Math.Round(ThroughputRatio, 3),
        p50ProductOverTextbook = Math.Round(P50Ratio, 3),
    };

    private static string Row(string concurrency, string coordinator, PhaseResult phase, string ratios)
    {
        var l = phase.Load;
        var o = PerCommitted(phase);
        return string.Create(CultureInfo.InvariantCulture,
            $"{concurrency,5} | {coordinator,-11} | {l.CommittedPerSecond,8:0.0} {l.Percentile(50),7:0} {l.Percentile(95),7:0} {l.Percentile(99),7:0} | {o.QueueSends,5:0.0} {o.QueueReceives,5:0.0} {o.QueueDeletes,5:0.0} {o.TableReads,5:0.0} {o.TableWrites,5:0.0} {o.BlobRequests,5:0.0} {o.Other,5:0.0} {o.Total,6:0.0} |{ratios}");
    }

    private static object Side(PhaseResult phase)
    {
        var l = phase.Load;
        var o = PerCommitted(phase);
        return new
        {
            phase = phase.Scenario.Name,
            committed = l.Committed,
            aborted = l.Aborted,
            committedPerSecond = Math.Round(l.CommittedPerSecond, 2),
            latencyMs = new { p50 = Math.Round(l.Percentile(50), 1), p95 = Math.Round(l.Percentile(95), 1), p99 = Math.Round(l.Percentile(99), 1) },
            operationsPerCommitted = new
            {
                queueSends = Math.Round(o.QueueSends, 2),
                queueReceives = Math.Round(o.QueueReceives, 2),
                queueDeletes = Math.Round(o.QueueDeletes, 2),
                tableReads = Math.Round(o.TableReads, 2),
                tableWrites = Math.Round(o.TableWrites, 2),
                blobRequests = Math.Round(o.BlobRequests, 2),
                other = Math.Round(o.Other, 2),
                total = Math.Round(o.Total, 2),
            },
        };
    }

    private static double Ratio(double a, double b) => b > 0 && !double.IsNaN(a) ? a / b : double.NaN;
}
