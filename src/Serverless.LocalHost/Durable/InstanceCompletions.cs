using System.Collections.Concurrent;
using DurableTask.Core;

namespace Serverless.LocalHost.Durable;

/// <summary>
/// Tells waiters in this process when the engine of this process committed the end of an orchestration (its history and
/// instance row written, <see cref="CommitNotifyingService"/>), with its final state, so that
/// <see cref="LocalDurableTaskClient.WaitForInstanceCompletionAsync"/> answers at once instead of at its next poll.
/// </summary>
public sealed class InstanceCompletions
{
    private readonly ConcurrentDictionary<string, TaskCompletionSource<OrchestrationState>> _waiters = new(StringComparer.Ordinal);

    /// <summary>The final state of the instance once this process commits it; a waiter registers before it reads, so that a commit in between is not missed.</summary>
    public Task<OrchestrationState> WhenCommitted(string instanceId, CancellationToken cancellationToken)
    {
        var waiter = _waiters.GetOrAdd(instanceId, _ => new TaskCompletionSource<OrchestrationState>(TaskCreationOptions.RunContinuationsAsynchronously));
        return waiter.Task.WaitAsync(cancellationToken);
    }

    public void Committed(string instanceId, OrchestrationState state)
    {
        if (_waiters.TryRemove(instanceId, out var waiter))
        {
            waiter.TrySetResult(state);
        }
    }
}
