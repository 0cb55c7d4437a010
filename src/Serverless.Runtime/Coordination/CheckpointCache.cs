using Serverless.Runtime.Storage;

namespace Serverless.Runtime.Coordination;

/// <summary>
/// The checkpoints this process last read or wrote, with their ETags, so that the next event of a transaction
/// handled here needs no read: it is applied to the remembered state and written with the remembered ETag.
/// Bounded (least recently used goes first).
/// </summary>
/// <remarks>
/// Safe because it is only ever a guess: every write is still guarded by the ETag, so a state that another
/// process has changed since makes the write fail with a conflict, and the caller forgets it and reloads.
/// </remarks>
public sealed class CheckpointCache(int capacity = 20_000)
{
    private readonly Dictionary<string, LinkedListNode<StoredTransaction>> _entries = new(StringComparer.Ordinal);
    private readonly LinkedList<StoredTransaction> _recency = new();
    private readonly Lock _gate = new();

    public StoredTransaction? Get(string id)
    {
        lock (_gate)
        {
            if (!_entries.TryGetValue(id, out var node))
            {
                return null;
            }

            _recency.Remove(node);
            _recency.AddFirst(node);
            return node.Value;
        }
    }

    /// <summary>Remembers <paramref name="stored"/>; one without an ETag (the service did not return it) is forgotten instead.</summary>
    public void Put(StoredTransaction stored)
    {
        ArgumentNullException.ThrowIfNull(stored);
        if (stored.ETag == default)
        {
            Remove(stored.State.Id);
            return;
        }

        lock (_gate)
        {
            if (_entries.TryGetValue(stored.State.Id, out var node))
            {
                _recency.Remove(node);
            }

            _entries[stored.State.Id] = _recency.AddFirst(stored);
            while (_entries.Count > capacity && _recency.Last is { } oldest)
            {
                _recency.RemoveLast();
                _entries.Remove(oldest.Value.State.Id);
            }
        }
    }

    public void Remove(string id)
    {
        lock (_gate)
        {
            if (_entries.Remove(id, out var node))
            {
                _recency.Remove(node);
            }
        }
    }

    public int Count
    {
        get
        {
            lock (_gate)
            {
                return _entries.Count;
            }
        }
    }
}
