using System.Diagnostics;
using Serverless.Bench;

BenchOptions options;
try
{
    options = BenchOptions.Parse(args);
}
catch (ArgumentException ex)
{
    await Console.Error.WriteLineAsync(ex.Message);
    return 2;
}

// A hard stop well beyond the run's own time budget (BenchOptions.TimeBudget), which ends it with a table.
using var stop = new CancellationTokenSource(TimeSpan.FromMinutes(25));
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    stop.Cancel();
};

var stopwatch = Stopwatch.StartNew();
var run = await BenchRun.RunAsync(options, stop.Token);
Console.WriteLine();
Console.WriteLine(Report.Table(run.Phases, run.ScaleOut, run.Machine, run.Skipped));
if (options.JsonPath is { } path)
{
    await Report.WriteJsonAsync(path, run.Phases, run.ScaleOut, run.Machine, run.Skipped, stopwatch.Elapsed.TotalSeconds, stop.Token);
    Console.WriteLine($"wrote {path}");
}

Console.WriteLine($"bench took {stopwatch.Elapsed.TotalSeconds:0} s");
// Failed or unfinished transactions, or skipped phases, make the figures suspect or partial: say so in the exit code too.
return run.Skipped.Count == 0 && run.Phases.Select(p => p.Load).Concat(run.ScaleOut.Select(s => s.Load)).All(l => l.Errors == 0 && l.Unfinished == 0) ? 0 : 1;
