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

using var stop = new CancellationTokenSource(TimeSpan.FromMinutes(15));
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    stop.Cancel();
};

var stopwatch = Stopwatch.StartNew();
var run = await BenchRun.RunAsync(options, stop.Token);
Console.WriteLine();
Console.WriteLine(Report.Table(run.Phases, run.ScaleOut, run.Machine));
if (options.JsonPath is { } path)
{
    await Report.WriteJsonAsync(path, run.Phases, run.ScaleOut, run.Machine, stopwatch.Elapsed.TotalSeconds, stop.Token);
    Console.WriteLine($"wrote {path}");
}

Console.WriteLine($"bench took {stopwatch.Elapsed.TotalSeconds:0} s");
// Failed or unfinished transactions make the figures suspect: say so in the exit code too.
return run.Phases.Select(p => p.Load).Concat(run.ScaleOut.Select(s => s.Load)).All(l => l.Errors == 0 && l.Unfinished == 0) ? 0 : 1;
