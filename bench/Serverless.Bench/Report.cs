using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Serverless.Bench;

/// <summary>One phase's figures.</summary>
/// <param name="Scenario">What ran.</param>
/// <param name="Load">What the clients saw.</param>
/// <param name="UntilLastAnswer">Storage requests per finished transaction counted until the last client had its answer (timers that had not fired yet are missing).</param>
/// <param name="Total">The same, including the durable timers (vote deadline, phase-2 retry) that fire later, once they have.</param>
/// <param name="DrainSeconds">How long after the load the timers took to fire and be handled.</param>
/// <param name="Capacity">Azurite's rate for the same mix at the same concurrency; null when not measured.</param>
/// <param name="Events">The host's warnings and errors during the phase, counted by event.</param>
/// <param name="AzuriteCores">Cores Azurite used on average during the load (it is single-threaded: 1.0 is its ceiling).</param>
/// <param name="BenchCores">Cores this process (the in-process host and the clients) used on average during the load.</param>
/// <param name="Bank">What the phase left at the bank, once drained.</param>
public sealed record PhaseResult(
    Scenario Scenario, LoadResult Load, OpCounts UntilLastAnswer, OpCounts Total, double DrainSeconds, CapacityResult? Capacity,
    IReadOnlyDictionary<string, long> Events, double? AzuriteCores, double? BenchCores, BankCheck Bank)
{
    /// <summary>Transactions per second Azurite's rate allows at this many requests per transaction.</summary>
    public double? Bound => Capacity is null || Total.Total <= 0 ? null : Capacity.OperationsPerSecond / Total.Total;

    /// <summary>Finished transactions per second as a share of <see cref="Bound"/>.</summary>
    public double? Achieved => Bound is { } b && b > 0 ? Load.FinishedPerSecond / b : null;
}

/// <summary>One scale-out configuration: how many host processes, what they did together, and the CPU it took.</summary>
public sealed record ScaleOutResult(int Hosts, Scenario Scenario, LoadResult Load, OpCounts UntilLastAnswer, double? AzuriteCores, double? HostCores);

/// <summary>The machine and the run, so that a figure is never read without its context.</summary>
public sealed record MachineInfo(string Cpu, int Cores, double MemoryGiB, string Os, string Runtime, string Azurite, string LoadAverageAtStart, string LoadAverageAtEnd, string Command);

/// <summary>Prints the table and writes the JSON.</summary>
public static class Report
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        WriteIndented = true,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    public static string Table(IReadOnlyList<PhaseResult> phases, IReadOnlyList<ScaleOutResult> scaleOut, MachineInfo machine, IReadOnlyList<string> skipped)
    {
        ArgumentNullException.ThrowIfNull(phases);
        ArgumentNullException.ThrowIfNull(scaleOut);
        ArgumentNullException.ThrowIfNull(machine);
        ArgumentNullException.ThrowIfNull(skipped);
        var s = new StringBuilder();
        s.AppendLine(CultureInfo.InvariantCulture, $"Machine: {machine.Cpu}, {machine.Cores} cores, {machine.MemoryGiB:0.#} GiB; {machine.Os}; {machine.Runtime}; Azurite {machine.Azurite} (on disk, temporary folder)");
        s.AppendLine(CultureInfo.InvariantCulture, $"Load average at start {machine.LoadAverageAtStart}, at end {machine.LoadAverageAtEnd} (other work on the machine makes every figure noisy)");
        s.AppendLine();
        s.AppendLine("                                      |                    clients                                | storage requests per transaction (app and Durable engine)    | Azurite, same mix and concurrency");
        s.AppendLine("phase                                 |   txs commit abort  secs commit/s  p50 ms  p95 ms  p99 ms |  send  recv   del  read write  blob other  total (to answer) |    ops/s  bound tx/s  achieved");
        s.AppendLine(new string('-', 196));
        foreach (var p in phases)
        {
            var l = p.Load;
            var o = p.Total;
            s.Append(CultureInfo.InvariantCulture, $"{p.Scenario.Description,-38}| {l.Started,5} {l.Committed,6} {l.Aborted,5} {l.Elapsed.TotalSeconds,5:0.0} {l.CommittedPerSecond,8:0.0} {l.Percentile(50),7:0} {l.Percentile(95),7:0} {l.Percentile(99),7:0} ");
            s.Append(CultureInfo.InvariantCulture, $"| {o.QueueSends,5:0.0} {o.QueueReceives,5:0.0} {o.QueueDeletes,5:0.0} {o.TableReads,5:0.0} {o.TableWrites,5:0.0} {o.BlobRequests,5:0.0} {o.Other,5:0.0} {o.Total,6:0.0} ({p.UntilLastAnswer.Total,9:0.0}) ");
            s.AppendLine(p.Capacity is null
                ? "|        -           -         -"
                : string.Create(CultureInfo.InvariantCulture, $"| {p.Capacity.OperationsPerSecond,8:0} {p.Bound,11:0.0} {p.Achieved,9:P0}"));
            if (l.Refused > 0)
            {
                s.AppendLine(CultureInfo.InvariantCulture, $"    {l.Refused} starts answered 429 (admission control) and sent again after their Retry-After");
            }

            if (l.Unfinished + l.Errors > 0)
            {
                s.AppendLine(CultureInfo.InvariantCulture, $"    ! {l.Unfinished} did not end within the wait, {l.Errors} failed{(l.FirstError is null ? "" : $"; first: {l.FirstError}")}");
            }
        }

        if (Comparison.Table(Comparison.Pairs(phases)) is { Length: > 0 } comparison)
        {
            s.AppendLine();
            s.Append(comparison);
        }

        s.AppendLine();
        s.AppendLine("where the time goes (server-side, from the status documents; the textbook's answer has no times)");
        s.AppendLine("phase                                 | start->decision p50/p99 ms | decision->end p50/p99 ms | CPU cores: Azurite  host+clients | bank branches: committed/rolled back/prepared, accounts holding | host warnings and errors");
        foreach (var p in phases)
        {
            var l = p.Load;
            var warnings = string.Join(", ", p.Events.Select(e => $"{e.Key} x{e.Value}"));
            s.AppendLine(CultureInfo.InvariantCulture,
                $"{p.Scenario.Description,-38}| {Ms(LoadResult.Percentile(l.DecideMs, 50)),12} {Ms(LoadResult.Percentile(l.DecideMs, 99)),12} | {Ms(LoadResult.Percentile(l.Phase2Ms, 50)),11} {Ms(LoadResult.Percentile(l.Phase2Ms, 99)),12} | {Cores(p.AzuriteCores),18} {Cores(p.BenchCores),13} | {$"{p.Bank.Committed}/{p.Bank.RolledBack}/{p.Bank.Prepared}, {p.Bank.AccountsHolding}",-64} | {(warnings.Length == 0 ? "none" : warnings)}");
        }

        if (scaleOut.Count > 0)
        {
            s.AppendLine();
            s.AppendLine("scale-out: host processes on one storage account and task hub (same load spread round-robin; storage requests per transaction counted until the last answer: timers not drained)");
            s.AppendLine("hosts | phase                               |   txs commit abort  secs commit/s  p50 ms  p95 ms  p99 ms |  send  recv   del  read write  blob other  total | CPU cores: Azurite hosts");
            foreach (var r in scaleOut)
            {
                var l = r.Load;
                var o = r.UntilLastAnswer;
                s.AppendLine(CultureInfo.InvariantCulture,
                    $"{r.Hosts,5} | {r.Scenario.Description,-36}| {l.Started,5} {l.Committed,6} {l.Aborted,5} {l.Elapsed.TotalSeconds,5:0.0} {l.CommittedPerSecond,8:0.0} {l.Percentile(50),7:0} {l.Percentile(95),7:0} {l.Percentile(99),7:0} | {o.QueueSends,5:0.0} {o.QueueReceives,5:0.0} {o.QueueDeletes,5:0.0} {o.TableReads,5:0.0} {o.TableWrites,5:0.0} {o.BlobRequests,5:0.0} {o.Other,5:0.0} {o.Total,6:0.0} | {Cores(r.AzuriteCores),18} {Cores(r.HostCores),5}");
                if (l.Unfinished + l.Errors > 0)
                {
                    s.AppendLine(CultureInfo.InvariantCulture, $"    ! {l.Unfinished} did not end within the wait, {l.Errors} failed{(l.FirstError is null ? "" : $"; first: {l.FirstError}")}");
                }
            }
        }

        if (skipped.Count > 0)
        {
            s.AppendLine();
            s.AppendLine(CultureInfo.InvariantCulture, $"! skipped, the run's time budget being spent: {string.Join(", ", skipped)}");
        }

        return s.ToString();
    }

    public static async Task WriteJsonAsync(
        string path, IReadOnlyList<PhaseResult> phases, IReadOnlyList<ScaleOutResult> scaleOut, MachineInfo machine, IReadOnlyList<string> skipped, double seconds, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(phases);
        ArgumentNullException.ThrowIfNull(scaleOut);
        var document = new
        {
            machine,
            durationSeconds = Math.Round(seconds, 1),
            skipped,
            notes = new[]
            {
                "latency: client-observed, from sending POST /api/transactions?waitSeconds=30 to receiving the final status",
                "operations: storage requests counted by the app's StorageMetrics pipeline policy (on the app's clients and the Durable engine's blob, queue and table clients), per finished (committed or aborted) transaction",
                "operations.total includes the durable timers (vote deadline, also when cancelled; phase-2 retry), drained after each phase from the participant, coordinator and task hub queues; untilLastAnswer stops counting when the last client is answered",
                "azurite: the same per-transaction mix issued directly with the SDK at the phase's concurrency; bound = opsPerSecond / operations.total.total",
                "textbook-*: the same load against the textbook Durable 2PC kept in bench/ (POST /api/textbook/transactions), on the same host; comparison: product phase cN against textbook-cN, storage requests per committed transaction",
            },
            comparison = Comparison.Pairs(phases).Select(c => c.ToJson()),
            phases = phases.Select(p => new
            {
                name = p.Scenario.Name,
                description = p.Scenario.Description,
                orchestration = p.Scenario.Orchestration.ToString(),
                branches = p.Scenario.Branches,
                concurrency = p.Scenario.Concurrency,
                abortShare = p.Scenario.AbortShare,
                clients = Clients(p.Load),
                operations = new { total = Ops(p.Total), untilLastAnswer = Ops(p.UntilLastAnswer), drainSeconds = Math.Round(p.DrainSeconds, 1) },
                cpuCores = new { azurite = RoundOrNull(p.AzuriteCores), hostAndClients = RoundOrNull(p.BenchCores) },
                hostEvents = p.Events,
                bank = p.Bank,
                azurite = p.Capacity is null ? null : new
                {
                    concurrency = p.Capacity.Concurrency,
                    seconds = Math.Round(p.Capacity.Seconds, 2),
                    operationsPerSecond = Math.Round(p.Capacity.OperationsPerSecond, 0),
                    boundTransactionsPerSecond = Math.Round(p.Bound ?? 0, 1),
                    achievedShareOfBound = Math.Round(p.Achieved ?? 0, 3),
                },
            }),
            scaleOut = scaleOut.Select(r => new
            {
                hosts = r.Hosts,
                name = r.Scenario.Name,
                concurrency = r.Scenario.Concurrency,
                clients = Clients(r.Load),
                operations = new { untilLastAnswer = Ops(r.UntilLastAnswer) },
                cpuCores = new { azurite = RoundOrNull(r.AzuriteCores), hosts = RoundOrNull(r.HostCores) },
            }),
        };
        var directory = Path.GetDirectoryName(Path.GetFullPath(path));
        if (!string.IsNullOrEmpty(directory))
        {
            Directory.CreateDirectory(directory);
        }

        await File.WriteAllTextAsync(path, JsonSerializer.Serialize(document, Json) + "\n", cancellationToken);
    }

    private static object Clients(LoadResult l) => new
    {
        started = l.Started,
        committed = l.Committed,
        aborted = l.Aborted,
        unfinished = l.Unfinished,
        errors = l.Errors,
        refused = l.Refused,
        firstError = l.FirstError,
        seconds = Math.Round(l.Elapsed.TotalSeconds, 2),
        committedPerSecond = Math.Round(l.CommittedPerSecond, 1),
        finishedPerSecond = Math.Round(l.FinishedPerSecond, 1),
        latencyMs = new { p50 = Round(l.Percentile(50)), p95 = Round(l.Percentile(95)), p99 = Round(l.Percentile(99)), max = Round(l.LatenciesMs.Length > 0 ? l.LatenciesMs[^1] : double.NaN) },
        serverStartToDecisionMs = new { p50 = Round(LoadResult.Percentile(l.DecideMs, 50)), p99 = Round(LoadResult.Percentile(l.DecideMs, 99)) },
        serverDecisionToEndMs = new { p50 = Round(LoadResult.Percentile(l.Phase2Ms, 50)), p99 = Round(LoadResult.Percentile(l.Phase2Ms, 99)) },
    };

    private static object Ops(OpCounts o) => new
    {
        queueSends = Round(o.QueueSends, 2),
        queueReceives = Round(o.QueueReceives, 2),
        queueDeletes = Round(o.QueueDeletes, 2),
        tableReads = Round(o.TableReads, 2),
        tableWrites = Round(o.TableWrites, 2),
        blobRequests = Round(o.BlobRequests, 2),
        other = Round(o.Other, 2),
        total = Round(o.Total, 2),
    };

    private static string Ms(double ms) => double.IsNaN(ms) ? "-" : ms.ToString("0", CultureInfo.InvariantCulture);

    private static string Cores(double? cores) => cores is { } c ? c.ToString("0.00", CultureInfo.InvariantCulture) : "n/a";

    private static double? RoundOrNull(double? value) => value is { } v ? Math.Round(v, 2) : null;

    private static double Round(double value, int digits = 1) => double.IsNaN(value) ? value : Math.Round(value, digits);
}
