using Serverless.Core.Messaging;
using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.Json;
using Azure.Data.Tables;
using Azure.Storage.Queues;
using Serverless.Bench.Textbook;
using Serverless.Functions.Storage;
using Serverless.Testing;

namespace Serverless.Bench;

/// <summary>The whole benchmark: Azurite, the in-process host through the phases, then the scale-out comparison.</summary>
public static class BenchRun
{
    private const int WarmUpTimeoutSeconds = 1;

    /// <param name="Phases">The phases that ran.</param>
    /// <param name="ScaleOut">The scale-out configurations that ran.</param>
    /// <param name="Machine">Where.</param>
    /// <param name="Skipped">Phases and configurations not started because the run's time budget was spent.</param>
    public sealed record Results(IReadOnlyList<PhaseResult> Phases, IReadOnlyList<ScaleOutResult> ScaleOut, MachineInfo Machine, IReadOnlyList<string> Skipped);

    public static async Task<Results> RunAsync(BenchOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        var loadAtStart = LoadAverage();

        // On disk, in a folder of its own: in memory, Azurite's queue garbage collector (every 60 s) deletes each sent
        // message's extent with an O(n) removal, so after a minute of load it stalls for tens of seconds.
        var folder = Directory.CreateTempSubdirectory("serverless-bench-azurite-");
        try
        {
            Log("starting Azurite (127.0.0.1, --disableTelemetry, data in " + folder.FullName + ")");
            await using var azurite = await AzuriteInstance.StartAsync(new AzuriteOptions { Location = folder.FullName }, cancellationToken);
            Log($"{azurite}");
            return await RunAsync(azurite, options, loadAtStart, cancellationToken);
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }

    private static async Task<Results> RunAsync(AzuriteInstance azurite, BenchOptions options, string loadAtStart, CancellationToken cancellationToken)
    {
        // The in-process host reads host.json (Durable's and the queue triggers' settings) from the app's copy next to
        // this program (the build puts it there), whatever the current directory holds.
        if (!File.Exists(Path.Combine(AppContext.BaseDirectory, "host.json")))
        {
            throw new InvalidOperationException($"no host.json in {AppContext.BaseDirectory}: the build copies the app's (src/Serverless.Functions/host.json) there");
        }

        Environment.SetEnvironmentVariable("FUNCTIONS_APP_ROOT", AppContext.BaseDirectory);

        var budget = Stopwatch.StartNew();
        var skipped = new List<string>();
        bool WithinBudget(string name)
        {
            if (budget.Elapsed < options.TimeBudget)
            {
                return true;
            }

            Log($"{name}: skipped, the time budget of {options.TimeBudget.TotalMinutes:0} min is spent");
            skipped.Add(name);
            return false;
        }

        var phases = new List<PhaseResult>();
        var workload = new Workload();
        var capacity = new AzuriteCapacity(azurite.ConnectionString);
        // The textbook orchestration is served by the same in-process host (same engine, task hub, settings and counting)
        // when a textbook phase is to run; otherwise the host serves the app alone, as before the comparison existed.
        var textbook = options.Phases.Any(p => p.Orchestration == Orchestration.Textbook);

        // The payment service of the mixed order: a process of its own, as in production, when a phase charges it.
        await using var payments = options.Phases.Any(p => p.Mixed) ? await PaymentsServer.StartAsync(cancellationToken) : null;
        await using (var host = await InProcessHost.StartAsync(azurite.ConnectionString, "benchphases", textbook, payments, cancellationToken))
        {
            Log("seeding accounts and items; warming up" + (textbook ? " (the product, then the textbook orchestration)" : ""));
            await workload.SeedAsync(host.Clients[0], cancellationToken);
            if (payments is not null)
            {
                Log($"seeding cards at the payment service ({payments.BaseUrl})");
                await workload.SeedCardsAsync(payments, cancellationToken);
            }

            await WarmUpAsync(host, workload, azurite.ConnectionString, Orchestration.Product, cancellationToken);
            if (textbook)
            {
                await WarmUpAsync(host, workload, azurite.ConnectionString, Orchestration.Textbook, cancellationToken);
            }

            var seed = 1;
            foreach (var scenario in options.Phases.Where(p => WithinBudget(p.Name)))
            {
                phases.Add(await RunPhaseAsync(host, azurite, capacity, workload, scenario, options, seed++, cancellationToken));
            }
        }

        var scaleOut = new List<ScaleOutResult>();
        if (options.ScaleOut)
        {
            foreach (var hosts in new[] { 1, 2 }.Where(n => WithinBudget($"scale{n}")))
            {
                scaleOut.Add(await RunScaleOutAsync(azurite, workload, options, hosts, cancellationToken));
            }
        }

        return new Results(phases, scaleOut, Machine(loadAtStart), skipped);
    }

    private static async Task<PhaseResult> RunPhaseAsync(
        IBenchHost host, AzuriteInstance azurite, AzuriteCapacity capacity, Workload workload, Scenario scenario, BenchOptions options, int seed, CancellationToken cancellationToken)
    {
        Log($"phase {scenario.Name}: {scenario.Transactions} x {scenario.Description}");
        var events = (host as InProcessHost)?.Log;
        var eventsBefore = events?.Snapshot() ?? new Dictionary<string, long>();
        var before = await host.ReadOpsAsync(cancellationToken);
        var azuriteCpu = CpuMeter.Start(CpuMeter.AzuritePids(azurite.QueuePort));
        var benchCpu = CpuMeter.Start([Environment.ProcessId]);
        var load = await LoadRunner.RunAsync(host.Clients, scenario, workload, scenario.TimeoutSeconds ?? options.TimeoutSeconds, seed, options.PhaseTimeLimit, cancellationToken);
        var (azuriteCores, benchCores) = (azuriteCpu.CoresUsed(), benchCpu.CoresUsed());
        var answered = (await host.ReadOpsAsync(cancellationToken)).Minus(before);
        Log($"  {load.Committed} committed, {load.Aborted} aborted in {load.Elapsed.TotalSeconds:0.0} s ({load.CommittedPerSecond:0.0}/s), p50 {load.Percentile(50):0} ms, p99 {load.Percentile(99):0} ms, {load.Refused} starts refused (429); draining timers");
        if (load.FirstError is not null)
        {
            Log($"  first error: {load.FirstError}");
        }

        var drain = await DrainAsync(azurite.ConnectionString, host.TaskHub, TimeSpan.FromSeconds((scenario.TimeoutSeconds ?? options.TimeoutSeconds) + 30), cancellationToken);
        var total = (await host.ReadOpsAsync(cancellationToken)).Minus(before);
        var perTx = total.Per(load.Finished);
        var bank = await BankCheck.ReadAsync(azurite.ConnectionString, scenario.Name, cancellationToken);
        Log($"  drained in {drain:0.0} s; {perTx.Total:0.0} storage requests per transaction ({answered.Per(load.Finished).Total:0.0} until the last answer); {bank}");
        Log($"  probing Azurite at c={scenario.Concurrency}");
        var reads = ReadTargets(azurite.ConnectionString, host.TaskHub, scenario, workload);
        var probe = await capacity.MeasureAsync(perTx, scenario.Concurrency, options.CapacityDuration, reads, scenario.Name, cancellationToken);
        var eventsDuring = (events?.Snapshot() ?? new Dictionary<string, long>())
            .Select(e => (e.Key, Count: e.Value - eventsBefore.GetValueOrDefault(e.Key)))
            .Where(e => e.Count > 0)
            .ToDictionary(e => e.Key, e => e.Count, StringComparer.Ordinal);
        var result = new PhaseResult(scenario, load, answered.Per(load.Finished), perTx, drain, probe, eventsDuring, azuriteCores, benchCores, bank);
        Log($"  Azurite: {probe.OperationsPerSecond:0} ops/s -> bound {result.Bound:0.0} tx/s; achieved {result.Achieved:P0}");
        return result;
    }

    private static async Task<ScaleOutResult> RunScaleOutAsync(AzuriteInstance azurite, Workload workload, BenchOptions options, int hosts, CancellationToken cancellationToken)
    {
        var scenario = options.ScaleOutPhase with { Name = $"scale{hosts}" };
        Log($"scale-out: {hosts} host process(es), {scenario.Transactions} x {scenario.Description}");
        await using var processes = await HostProcesses.StartAsync(azurite.ConnectionString, $"benchscale{hosts}", hosts, cancellationToken);
        // The accounts and items the in-process host seeded are still there: the participants' tables have fixed names.
        await WarmUpAsync(processes, workload, azurite.ConnectionString, Orchestration.Product, cancellationToken);
        Log($"  partitions: {await processes.DescribePartitionsAsync(azurite.ConnectionString, cancellationToken)}");
        var before = await processes.ReadOpsAsync(cancellationToken);
        var azuriteCpu = CpuMeter.Start(CpuMeter.AzuritePids(azurite.QueuePort));
        var hostCpu = CpuMeter.Start(processes.ProcessIds);
        var load = await LoadRunner.RunAsync(processes.Clients, scenario, workload, options.TimeoutSeconds, 100 + hosts, options.PhaseTimeLimit, cancellationToken);
        var (azuriteCores, hostCores) = (azuriteCpu.CoresUsed(), hostCpu.CoresUsed());
        var answered = (await processes.ReadOpsAsync(cancellationToken)).Minus(before);
        Log($"  {load.Committed} committed, {load.Aborted} aborted in {load.Elapsed.TotalSeconds:0.0} s ({load.CommittedPerSecond:0.0}/s), p50 {load.Percentile(50):0} ms, p99 {load.Percentile(99):0} ms; draining");
        Log($"  partitions: {await processes.DescribePartitionsAsync(azurite.ConnectionString, cancellationToken)}");
        if (load.FirstError is not null)
        {
            Log($"  first error: {load.FirstError}");
        }

        if (processes.Tail(20) is { Length: > 0 } tail)
        {
            Log($"  the hosts' last errors:\n{tail}");
        }

        // The participants' queues are shared with the next configuration's hosts: leave them empty.
        await DrainAsync(azurite.ConnectionString, processes.TaskHub, TimeSpan.FromSeconds(options.TimeoutSeconds + 30), cancellationToken);
        return new ScaleOutResult(hosts, scenario, load, answered.Per(load.Finished), azuriteCores, hostCores);
    }

    /// <summary>
    /// Some transactions first, so that JIT compilation and connection set-up are not in the first phase's figures:
    /// single refused debits, which leave only 1-second timers behind, drained before the first phase. Once per
    /// <paramref name="orchestration"/> that will be measured.
    /// </summary>
    private static async Task WarmUpAsync(IBenchHost host, Workload workload, string connectionString, Orchestration orchestration, CancellationToken cancellationToken)
    {
        var name = orchestration == Orchestration.Textbook ? "warm-textbook" : "warm";
        var warmUp = new Scenario(name, 1, 4 * host.Clients.Count, 40 * host.Clients.Count, AbortShare: 1, Orchestration: orchestration);
        var result = await LoadRunner.RunAsync(host.Clients, warmUp, workload, WarmUpTimeoutSeconds, 0, TimeSpan.FromSeconds(30), cancellationToken);
        if (result.Aborted == 0)
        {
            throw new InvalidOperationException($"the warm-up ended no transaction ({result.Started} started, {result.Committed} committed, {result.Unfinished} unfinished, {result.Errors} failed, {result.Refused} refusals): {result.FirstError}");
        }

        await DrainAsync(connectionString, host.TaskHub, TimeSpan.FromSeconds(30), cancellationToken);
    }

    /// <summary>
    /// Waits until the participants' queues (the textbook's too), the coordinator's queue and the task hub's own queues (<c>{hub}-control-NN</c>,
    /// <c>{hub}-workitems</c>) are empty: every durable timer has fired and been handled (a cancelled one too: it still
    /// fires and is discarded), so the storage requests they cost are in the count. Returns how long that took.
    /// </summary>
    private static async Task<double> DrainAsync(string connectionString, string taskHub, TimeSpan limit, CancellationToken cancellationToken)
    {
        var stopwatch = Stopwatch.StartNew();
        if (limit <= TimeSpan.Zero || string.IsNullOrEmpty(connectionString))
        {
            return 0;
        }

        var service = new QueueServiceClient(connectionString);
        var names = new List<string> { QueueNames.Coordinator, QueueNames.Participant("bank"), QueueNames.Participant("inventory"), TextbookNames.BankQueue };

        // Durable names its queues by the task hub in lower case: {hub}-control-00.. (one per partition) and {hub}-workitems.
        await foreach (var queue in service.GetQueuesAsync(prefix: taskHub.ToLowerInvariant() + "-", cancellationToken: cancellationToken))
        {
            names.Add(queue.Name);
        }

        // Only the queues that exist: the textbook's inbox exists only in a run with textbook phases.
        var existing = new HashSet<string>(StringComparer.Ordinal);
        await foreach (var queue in service.GetQueuesAsync(cancellationToken: cancellationToken))
        {
            existing.Add(queue.Name);
        }

        var queues = names.Where(existing.Contains).Distinct().Select(service.GetQueueClient).ToArray();
        while (stopwatch.Elapsed < limit)
        {
            var empty = true;
            foreach (var queue in queues)
            {
                if ((await queue.GetPropertiesAsync(cancellationToken)).Value.ApproximateMessagesCount > 0)
                {
                    empty = false;
                    break;
                }
            }

            if (empty)
            {
                return stopwatch.Elapsed.TotalSeconds;
            }

            await Task.Delay(200, cancellationToken);
        }

        var left = new List<string>();
        foreach (var queue in queues)
        {
            left.Add($"{queue.Name}: {(await queue.GetPropertiesAsync(cancellationToken)).Value.ApproximateMessagesCount}");
        }

        Log($"  the queues were not empty after {limit.TotalSeconds:0} s ({string.Join(", ", left)}); counting what was done by then");
        return stopwatch.Elapsed.TotalSeconds;
    }

    /// <summary>The partitions the app reads: this phase's orchestration instances (<c>{hub}Instances</c>, partition key = transaction id) and the bank's accounts, alternately.</summary>
    private static List<(TableClient, string)> ReadTargets(string connectionString, string taskHub, Scenario scenario, Workload workload)
    {
        var tables = new TableServiceClient(connectionString);
        var instances = tables.GetTableClient($"{taskHub}Instances");
        var bank = tables.GetTableClient("BankAccounts");
        var accounts = workload.AccountIds.ToList();
        return [.. Enumerable.Range(0, scenario.Transactions).SelectMany(i => new[]
        {
            (instances, $"{scenario.Name}-{i:D6}"),
            (bank, accounts[(i * 7) % accounts.Count]),
        })];
    }

    private static MachineInfo Machine(string loadAtStart)
    {
        var cpu = "unknown CPU";
        if (File.Exists("/proc/cpuinfo"))
        {
            cpu = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim() ?? cpu;
        }

        var azurite = "unknown";
        var package = Path.Combine(RepositoryRoot.Find(), "node_modules", "azurite", "package.json");
        if (File.Exists(package))
        {
            using var document = JsonDocument.Parse(File.ReadAllText(package));
            azurite = document.RootElement.GetProperty("version").GetString() ?? azurite;
        }

        return new MachineInfo(
            cpu,
            Environment.ProcessorCount,
            Math.Round(GC.GetGCMemoryInfo().TotalAvailableMemoryBytes / 1024d / 1024 / 1024, 1),
            RuntimeInformation.OSDescription,
            RuntimeInformation.FrameworkDescription,
            azurite,
            loadAtStart,
            LoadAverage(),
            "./bench.sh " + string.Join(' ', Environment.GetCommandLineArgs().Skip(1)));
    }

    private static string LoadAverage() =>
        File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "n/a";

    private static void Log(string message) =>
        Console.WriteLine($"{DateTime.Now.ToString("HH:mm:ss", CultureInfo.InvariantCulture)} {message}");
}
