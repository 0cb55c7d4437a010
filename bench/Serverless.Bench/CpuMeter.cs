using System.Diagnostics;

namespace Serverless.Bench;

/// <summary>
/// CPU time used by a set of processes over an interval, as a share of one core: shows which process is the
/// bottleneck (Azurite is one single-threaded Node.js process).
/// </summary>
public sealed class CpuMeter
{
    private readonly IReadOnlyList<int> _pids;
    private readonly TimeSpan _startCpu;
    private readonly long _startTime;

    private CpuMeter(IReadOnlyList<int> pids)
    {
        _pids = pids;
        _startCpu = Total(pids);
        _startTime = Stopwatch.GetTimestamp();
    }

    public static CpuMeter Start(IReadOnlyList<int> pids) => new(pids);

    /// <summary>Cores used on average since <see cref="Start"/> (1.0 = one core busy all the time); null when unknown.</summary>
    public double? CoresUsed()
    {
        if (_pids.Count == 0)
        {
            return null;
        }

        var elapsed = Stopwatch.GetElapsedTime(_startTime);
        return elapsed <= TimeSpan.Zero ? null : (Total(_pids) - _startCpu) / elapsed;
    }

    /// <summary>The Azurite process listening on <paramref name="queuePort"/>, found by its command line (Linux only).</summary>
    public static IReadOnlyList<int> AzuritePids(int queuePort)
    {
        var marker = $"--queuePort\0{queuePort}\0";
        var found = new List<int>();
        if (!Directory.Exists("/proc"))
        {
            return found;
        }

        foreach (var directory in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(directory), out var pid))
            {
                continue;
            }

            try
            {
                if (File.ReadAllText(Path.Combine(directory, "cmdline")).Contains(marker, StringComparison.Ordinal))
                {
                    found.Add(pid);
                }
            }
            catch (IOException)
            {
            }
            catch (UnauthorizedAccessException)
            {
            }
        }

        return found;
    }

    private static TimeSpan Total(IReadOnlyList<int> pids)
    {
        var total = TimeSpan.Zero;
        foreach (var pid in pids)
        {
            try
            {
                using var process = Process.GetProcessById(pid);
                total += process.TotalProcessorTime;
            }
            catch (ArgumentException)
            {
                // Gone: its time is no longer counted.
            }
            catch (InvalidOperationException)
            {
            }
        }

        return total;
    }
}
