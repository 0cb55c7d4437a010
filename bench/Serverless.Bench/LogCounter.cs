using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace Serverless.Bench;

/// <summary>
/// Counts the in-process host's log events by name (nothing is formatted or written): checkpoint conflicts, which
/// cost a reload and a second write each, and any warning or error, which would make a phase's figures suspect.
/// </summary>
public sealed class LogCounter : ILoggerProvider
{
    public const string CheckpointConflict = "CheckpointConflict";
    private readonly ConcurrentDictionary<string, long> _counts = new(StringComparer.Ordinal);

    public IReadOnlyDictionary<string, long> Snapshot() => new Dictionary<string, long>(_counts, StringComparer.Ordinal);

    public long Count(string name) => _counts.TryGetValue(name, out var n) ? n : 0;

    public ILogger CreateLogger(string categoryName) => new Counter(this);

    public void Dispose()
    {
    }

    private sealed class Counter(LogCounter owner) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (eventId.Name == CheckpointConflict || logLevel >= LogLevel.Warning)
            {
                var name = logLevel >= LogLevel.Warning ? $"{logLevel}:{eventId.Name ?? eventId.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)}" : eventId.Name!;
                owner._counts.AddOrUpdate(name, 1, (_, n) => n + 1);
            }
        }
    }
}
