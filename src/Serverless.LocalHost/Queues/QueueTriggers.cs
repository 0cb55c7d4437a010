using Serverless.Functions.Storage;
using Serverless.LocalHost.Catalog;
using Serverless.LocalHost.Configuration;
using Serverless.LocalHost.Invocation;

namespace Serverless.LocalHost.Queues;

/// <summary>
/// Runs a <see cref="QueueListener"/> per queue-triggered function, with host.json's <c>extensions.queues</c> semantics, on
/// the storage its <c>Connection</c> names (<see cref="StorageConnections"/>): one <see cref="QueueTransport"/> per distinct
/// connection string. The listeners' storage requests are counted with the app's own when the app registers a
/// <see cref="StorageMetrics"/> (the coordinator does).
/// </summary>
public sealed class QueueTriggers(
    IReadOnlyList<LocalFunction> functions,
    IConfiguration configuration,
    QueueListenerOptions options,
    FunctionInvoker invoker,
    IServiceProvider services,
    ILoggerFactory loggerFactory,
    StorageMetrics? metrics = null) : BackgroundService
{
    private readonly List<QueueListener> _listeners = [];

    /// <summary>The listeners by queue, to wake one when this process sends to its queue.</summary>
    public IReadOnlyList<QueueListener> Listeners => _listeners;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var transports = new Dictionary<string, QueueTransport>(StringComparer.Ordinal);
        var logger = loggerFactory.CreateLogger("Serverless.LocalHost.Queues");
        foreach (var function in functions.Where(f => f.Trigger == TriggerKind.Queue))
        {
            var queue = BindingExpressions.Resolve(function.Target!, configuration, function.Name);
            var connection = StorageConnections.ConnectionString(configuration, function.Connection, function.Name);
            if (!transports.TryGetValue(connection, out var transport))
            {
                transport = new QueueTransport(connection, options.Base64, q => logger.UndecodableMessage(q), metrics);
                transports.Add(connection, transport);
            }

            _listeners.Add(new QueueListener(
                queue,
                async (message, ct) =>
                {
                    await using var scope = services.CreateAsyncScope();
                    await invoker.InvokeAsync(function, message, ct, scope: scope.ServiceProvider);
                },
                transport,
                options,
                loggerFactory.CreateLogger<QueueListener>()));
        }

        await Task.WhenAll(_listeners.Select(l => l.RunAsync(stoppingToken)));
    }

    /// <summary>Wakes the listener of <paramref name="queue"/>, if this process has one (on any connection: a poll too many is harmless).</summary>
    public void Wake(string queue)
    {
        foreach (var listener in _listeners)
        {
            if (string.Equals(listener.Queue, queue, StringComparison.Ordinal))
            {
                listener.Wake();
            }
        }
    }
}
