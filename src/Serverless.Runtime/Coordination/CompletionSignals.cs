using System.Collections.Concurrent;

namespace Serverless.Runtime.Coordination;

/// <summary>
/// In-process wake-ups for callers waiting on a transaction's end (<c>waitSeconds</c>). A signal is only a
/// hint to re-read the checkpoint; waiters also poll, so a transaction finished by another process is seen too.
/// </summary>
public sealed class CompletionSignals
{
    private readonly ConcurrentDictionary<string, TaskCompletionSource> _waiters = new(StringComparer.Ordinal);

    /// <summary>A task that completes when <see cref="Notify"/> is called for <paramref name="id"/> (or never).</summary>
    public Task WhenNotified(string id) =>
        _waiters.GetOrAdd(id, _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).Task;

    public void Notify(string id)
    {
        if (_waiters.TryRemove(id, out var waiter))
        {
            waiter.TrySetResult();
        }
    }

    public void Forget(string id) => _waiters.TryRemove(id, out _);
}
