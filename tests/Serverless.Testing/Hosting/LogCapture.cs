using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace Serverless.Testing;

/// <summary>Keeps every log line of a host that passes its filters (event id, category, message), so that tests can wait on what it did.</summary>
public sealed class LogCapture : ILoggerProvider
{
    private readonly ConcurrentQueue<(int EventId, string Category, string Message)> _lines = new();

    public IReadOnlyCollection<(int EventId, string Category, string Message)> Lines => _lines;

    public int Count(int eventId, string fragment) => _lines.Count(l => l.EventId == eventId && l.Message.Contains(fragment, StringComparison.Ordinal));

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void Dispose()
    {
    }

    private sealed class Logger(LogCapture capture, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            capture._lines.Enqueue((eventId.Id, category, exception is null ? formatter(state, exception) : $"{formatter(state, exception)}\n{exception}"));
    }
}
