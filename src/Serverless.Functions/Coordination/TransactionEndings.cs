using System.Collections.Concurrent;

namespace Serverless.Functions.Coordination;

/// <summary>
/// Tells a start request of this process that waits for its transaction (<c>waitSeconds</c>) that a participant of this
/// process carried it to the end (<see cref="TransactionEnd"/>): the report that ends it is raised and the end recorded, so
/// the answer need not wait for the orchestration to apply the report and commit its own end.
/// </summary>
/// <remarks>
/// Backpressure: an early answer frees its client to start the next transaction before the orchestration has done its
/// part (applying the report, committing its end), so under overload the engine's backlog would grow without bound and
/// starve what only the orchestration can do (aborts, deadlines). So this process measures how far its engine is behind:
/// the time from a voter's end to its orchestration's completion here, smoothed. While that lag exceeds
/// <see cref="MaxLag"/>, a waiting start is answered when the orchestration completes, as without early answers, and the
/// clients feel the overload again; the lag falls as the backlog drains, and early answers resume.
/// </remarks>
public sealed class TransactionEndings
{
    /// <summary>The engine lag beyond which waiting starts are answered by the orchestration's completion again.</summary>
    public static readonly TimeSpan MaxLag = TimeSpan.FromSeconds(1);

    /// <summary>How long an end waits for its orchestration's completion in this process before it is forgotten (it ran elsewhere).</summary>
    public static readonly TimeSpan ForgetAfter = TimeSpan.FromSeconds(60);

    private readonly ConcurrentDictionary<string, TaskCompletionSource<VoteEvent>> _listeners = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, long> _unfinished = new(StringComparer.Ordinal);
    private readonly Lock _lagLock = new();
    private double _lagMilliseconds;

    /// <summary>The engine's lag as measured here: from a voter's end to its orchestration's completion, smoothed.</summary>
    public TimeSpan Lag
    {
        get
        {
            lock (_lagLock)
            {
                return TimeSpan.FromMilliseconds(_lagMilliseconds);
            }
        }
    }

    /// <summary>Listens for the end of <paramref name="transactionId"/> (before its prepares leave, so that none is missed); dispose to stop.</summary>
    public Listener Listen(string transactionId)
    {
        var ended = new TaskCompletionSource<VoteEvent>(TaskCreationOptions.RunContinuationsAsynchronously);
        _listeners[transactionId] = ended;
        return new Listener(this, transactionId, ended);
    }

    /// <summary>
    /// The deciding voter's report of a transaction it ended (<see cref="VoteEvent.Ended"/>), once its end is recorded: a
    /// start waiting for it is answered, unless the engine is more than <see cref="MaxLag"/> behind.
    /// </summary>
    public void Ended(string transactionId, VoteEvent report)
    {
        var now = Environment.TickCount64;
        if (_unfinished.Count >= 10_000)
        {
            foreach (var (id, at) in _unfinished)
            {
                if (now - at > ForgetAfter.TotalMilliseconds)
                {
                    _unfinished.TryRemove(id, out _);
                }
            }
        }

        _unfinished[transactionId] = now;
        if (Lag <= MaxLag && _listeners.TryRemove(transactionId, out var ended))
        {
            ended.TrySetResult(report);
        }
    }

    /// <summary>The orchestration of <paramref name="transactionId"/> completed in this process: one more measure of the lag.</summary>
    public void Finished(string transactionId)
    {
        if (_unfinished.TryRemove(transactionId, out var at))
        {
            var lag = Environment.TickCount64 - at;
            lock (_lagLock)
            {
                _lagMilliseconds += (lag - _lagMilliseconds) / 5;
            }
        }
    }

    public sealed class Listener(TransactionEndings endings, string transactionId, TaskCompletionSource<VoteEvent> ended) : IDisposable
    {
        /// <summary>Completes with the report of the voter that ended the transaction in this process; never, if none did.</summary>
        public Task<VoteEvent> Ended => ended.Task;

        public void Dispose() => endings._listeners.TryRemove(new KeyValuePair<string, TaskCompletionSource<VoteEvent>>(transactionId, ended));
    }
}
