using System.Diagnostics;

namespace Serverless.Testing;

/// <summary>Waits on a condition with a deadline instead of sleeping and hoping.</summary>
/// <remarks>
/// The condition is checked at once and then about every 50 ms. An exception thrown by the
/// condition is not swallowed: it ends the wait, because a probe that fails is a finding, not a
/// "not yet". Probes that expect transient failures (a host still starting) catch them themselves.
/// </remarks>
public static class Eventually
{
    /// <summary>How long to pause between two checks.</summary>
    public static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(50);

    /// <summary>Waits until <paramref name="condition"/> returns true.</summary>
    /// <param name="condition">The check; called repeatedly, never concurrently.</param>
    /// <param name="timeout">How long to keep checking.</param>
    /// <param name="description">What is awaited, in words, for the timeout message ("the transaction to commit").</param>
    /// <param name="cancellationToken">Ends the wait early with <see cref="OperationCanceledException"/>.</param>
    /// <exception cref="TimeoutException">The condition was still false at the deadline.</exception>
    public static async Task WaitAsync(
        Func<Task<bool>> condition, TimeSpan timeout, string description, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(condition);
        await WaitCoreAsync(condition, static satisfied => satisfied, timeout, description, showLast: false, cancellationToken);
    }

    /// <summary>
    /// Waits until <paramref name="probe"/> returns a non-null value that <paramref name="done"/>
    /// accepts, and returns that value.
    /// </summary>
    /// <param name="probe">Reads the current value; null means "nothing yet".</param>
    /// <param name="done">Whether the value read is the one awaited.</param>
    /// <param name="timeout">How long to keep probing.</param>
    /// <param name="description">What is awaited, in words, for the timeout message.</param>
    /// <param name="cancellationToken">Ends the wait early with <see cref="OperationCanceledException"/>.</param>
    /// <exception cref="TimeoutException">No accepted value at the deadline; the message shows the last value read.</exception>
    public static async Task<T> WaitAsync<T>(
        Func<Task<T?>> probe,
        Func<T, bool> done,
        TimeSpan timeout,
        string description,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(probe);
        ArgumentNullException.ThrowIfNull(done);
        return (await WaitCoreAsync(probe, done, timeout, description, showLast: true, cancellationToken))!;
    }

    private static async Task<T?> WaitCoreAsync<T>(
        Func<Task<T?>> probe,
        Func<T, bool> done,
        TimeSpan timeout,
        string description,
        bool showLast,
        CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(timeout, TimeSpan.Zero);

        var stopwatch = Stopwatch.StartNew();
        T? last = default;
        var attempts = 0;
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            attempts++;
            last = await probe();
            if (last is not null && done(last))
            {
                return last;
            }

            if (stopwatch.Elapsed >= timeout)
            {
                break;
            }

            var remaining = timeout - stopwatch.Elapsed;
            await Task.Delay(remaining < PollInterval ? remaining : PollInterval, cancellationToken);
        }

        var message = $"Timed out after {timeout.TotalSeconds:0.###} s ({attempts} checks) waiting for {description}.";
        throw new TimeoutException(showLast ? $"{message} Last value: {(last is null ? "null" : last.ToString())}" : message);
    }
}
