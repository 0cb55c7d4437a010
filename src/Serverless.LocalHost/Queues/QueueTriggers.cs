using Serverless.LocalHost.Catalog;
using Serverless.LocalHost.Invocation;

namespace Serverless.LocalHost.Queues;

/// <summary>Runs a <see cref="QueueListener"/> per queue-triggered function, with host.json's <c>extensions.queues</c> semantics.</summary>
public sealed class QueueTriggers(
    IReadOnlyList<LocalFunction> functions,
    IConfiguration configuration,
    QueueTransport transport,
    QueueListenerOptions options,
    FunctionInvoker invoker,
    IServiceProvider services,
    ILoggerFactory loggerFactory) : BackgroundService
{
    private readonly List<QueueListener> _listeners = [];

    /// <summary>The listeners by queue, to wake one when this process sends to its queue.</summary>
    public IReadOnlyList<QueueListener> Listeners => _listeners;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        foreach (var function in functions.Where(f => f.Trigger == TriggerKind.Queue))
        {
            var queue = BindingExpressions.Resolve(function.Target!, configuration, function.Name);
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

    /// <summary>Wakes the listener of <paramref name="queue"/>, if this process has one.</summary>
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
