using System.Collections.Concurrent;

namespace Serverless.LocalHost.Durable;

/// <summary>
/// Tells waiters in this process when an orchestrator function of this process returned its final result, so that
/// <see cref="LocalDurableTaskClient.WaitForInstanceCompletionAsync"/> reads the instance at once instead of at its next poll.
/// A hint only: the engine commits the completion just after, so the waiter still reads the instance to see it.
/// </summary>
public sealed class InstanceCompletions
{
    private readonly ConcurrentDictionary<string, TaskCompletionSource> _waiters = new(StringComparer.Ordinal);

    public Task WhenCompleted(string instanceId, CancellationToken cancellationToken)
    {
        var waiter = _waiters.GetOrAdd(instanceId, _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
        return waiter.Task.WaitAsync(cancellationToken);
    }

    public void Completed(string instanceId)
    {
        if (_waiters.TryRemove(instanceId, out var waiter))
        {
            waiter.TrySetResult();
        }
    }
}
