using System.Collections.Concurrent;
using Serverless.Core.Protocol;

namespace Serverless.Runtime.Coordination;

/// <summary>
/// In-process wake-ups for callers waiting on a transaction's end (<c>waitSeconds</c>): the signal carries the
/// final state, so the waiter needs no read. Waiters also poll, so a transaction finished by another process is
/// seen too.
/// </summary>
public sealed class CompletionSignals
{
    private readonly ConcurrentDictionary<string, TaskCompletionSource<TransactionState>> _waiters = new(StringComparer.Ordinal);

    /// <summary>A task that completes with the final state when <see cref="Notify"/> is called for <paramref name="id"/> (or never).</summary>
    public Task<TransactionState> WhenNotified(string id) =>
        _waiters.GetOrAdd(id, _ => new TaskCompletionSource<TransactionState>(TaskCreationOptions.RunContinuationsAsynchronously)).Task;

    /// <summary>Hands <paramref name="final"/>, a state that has just been written and is terminal, to whoever waits for it.</summary>
    public void Notify(TransactionState final)
    {
        ArgumentNullException.ThrowIfNull(final);
        if (_waiters.TryRemove(final.Id, out var waiter))
        {
            waiter.TrySetResult(final);
        }
    }

    public void Forget(string id) => _waiters.TryRemove(id, out _);
}
