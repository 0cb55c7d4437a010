using System.Collections.Concurrent;

namespace Serverless.Functions.Coordination;

/// <summary>
/// Tells a start request of this process that waits for its transaction (<c>waitSeconds</c>) that a participant of this
/// process carried it to the end (<see cref="TransactionEnd"/>): the report that ends it is raised and the end recorded, so
/// the answer need not wait for the orchestration to apply the report and commit its own end.
/// </summary>
public sealed class TransactionEndings
{
    private readonly ConcurrentDictionary<string, TaskCompletionSource<VoteEvent>> _listeners = new(StringComparer.Ordinal);

    /// <summary>Listens for the end of <paramref name="transactionId"/> (before its prepares leave, so that none is missed); dispose to stop.</summary>
    public Listener Listen(string transactionId)
    {
        var ended = new TaskCompletionSource<VoteEvent>(TaskCreationOptions.RunContinuationsAsynchronously);
        _listeners[transactionId] = ended;
        return new Listener(this, transactionId, ended);
    }

    /// <summary>The deciding voter's report of a transaction it ended (<see cref="VoteEvent.Ended"/>), once raised and its end recorded.</summary>
    public void Ended(string transactionId, VoteEvent report)
    {
        if (_listeners.TryRemove(transactionId, out var ended))
        {
            ended.TrySetResult(report);
        }
    }

    public sealed class Listener(TransactionEndings endings, string transactionId, TaskCompletionSource<VoteEvent> ended) : IDisposable
    {
        /// <summary>Completes with the report of the voter that ended the transaction in this process; never, if none did.</summary>
        public Task<VoteEvent> Ended => ended.Task;

        public void Dispose() => endings._listeners.TryRemove(new KeyValuePair<string, TaskCompletionSource<VoteEvent>>(transactionId, ended));
    }
}
