namespace Serverless.Functions.Coordination;

/// <summary>
/// Lets the branch activities of one transaction that run in this process at the same time end together, so that their
/// results (the votes of a phase 1, the acknowledgements of a phase 2) reach the orchestration in one episode rather than
/// one episode each: an activity that is done waits for the siblings still running here, up to <see cref="MaxWait"/>.
/// </summary>
/// <remarks>
/// Only timing: no activity learns anything of another, and each returns its own result. A sibling that runs in another
/// process, or starts after this one is done, is not waited for.
/// </remarks>
public sealed class ActivityBatching
{
    /// <summary>The longest an activity that is done waits for its siblings.</summary>
    public static readonly TimeSpan MaxWait = TimeSpan.FromMilliseconds(250);

    private readonly Dictionary<string, Batch> _running = new(StringComparer.Ordinal);

    /// <summary>An activity of <paramref name="transactionId"/> starts; dispose the result when it is done: that waits for the siblings still running here, at most <see cref="MaxWait"/>.</summary>
    public IAsyncDisposable Join(string transactionId)
    {
        lock (_running)
        {
            if (!_running.TryGetValue(transactionId, out var batch))
            {
                batch = new Batch();
                _running[transactionId] = batch;
            }

            batch.Running++;
            return new Member(this, transactionId, batch);
        }
    }

    private Task Leave(string transactionId, Batch batch)
    {
        lock (_running)
        {
            if (--batch.Running > 0)
            {
                return batch.Done.Task;
            }

            _running.Remove(transactionId);
            batch.Done.TrySetResult();
            return Task.CompletedTask;
        }
    }

    private sealed class Batch
    {
        public int Running { get; set; }

        public TaskCompletionSource Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    private sealed class Member(ActivityBatching owner, string transactionId, Batch batch) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            var siblings = owner.Leave(transactionId, batch);
            if (!siblings.IsCompleted)
            {
                await Task.WhenAny(siblings, Task.Delay(MaxWait));
            }
        }
    }
}
