using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Serverless.Runtime.Messaging;

namespace Serverless.Functions.Hosting;

/// <summary>Runs one queue listener per inbox of this process (the local host's queue triggers).</summary>
public sealed class QueueListenersService(IServiceProvider services, StorageInitializer storage) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await storage.Ready.WaitAsync(stoppingToken);
        var transport = services.GetRequiredService<QueueTransport>();
        var listeners = services.GetRequiredService<IReadOnlyList<(string Function, QueueListener Listener)>>()
            .ToDictionary(l => l.Listener.Queue, l => l.Listener, StringComparer.Ordinal);

        // A message this process sends to a queue it listens on wakes that listener: no polling delay on the hot path.
        void OnSent(string queue)
        {
            if (listeners.TryGetValue(queue, out var listener))
            {
                listener.Wake();
            }
        }

        transport.MessageSent += OnSent;
        try
        {
            await Task.WhenAll(listeners.Values.Select(l => l.RunAsync(stoppingToken)));
        }
        finally
        {
            transport.MessageSent -= OnSent;
        }
    }
}
