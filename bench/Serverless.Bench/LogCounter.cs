using System.Collections.Concurrent;
using System.Globalization;
using Microsoft.Extensions.Logging;

namespace Serverless.Bench;

/// <summary>
/// Counts the in-process host's warnings and errors by event name (nothing is formatted or written): any of them would
/// make a phase's figures suspect, or at least worth a look.
/// </summary>
public sealed class LogCounter : ILoggerProvider
{
    private readonly ConcurrentDictionary<string, long> _counts = new(StringComparer.Ordinal);

    public IReadOnlyDictionary<string, long> Snapshot() => new Dictionary<string, long>(_counts, StringComparer.Ordinal);

    public ILogger CreateLogger(string categoryName) => new Counter(this, categoryName);

    public void Dispose()
    {
    }

    private sealed class Counter(LogCounter owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Warning;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (logLevel >= LogLevel.Warning)
            {
                var name = $"{logLevel}:{eventId.Name ?? (eventId.Id != 0 ? eventId.Id.ToString(CultureInfo.InvariantCulture) : category)}";
                owner._counts.AddOrUpdate(name, 1, (_, n) => n + 1);
            }
        }
    }
}
