using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Serverless.Runtime.Messaging;
using Serverless.Runtime.Participants;
using Serverless.Runtime.Storage;

namespace Serverless.Functions.Hosting;

/// <summary>
/// Creates the tables and queues in the background, retrying until storage answers, so that the host starts
/// (and reports itself unhealthy) even while storage is down; the queue listeners wait for it.
/// </summary>
public sealed class StorageInitializer(IServiceProvider services, ILogger<StorageInitializer> logger) : BackgroundService
{
    private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Completes once every table and queue exists.</summary>
    public Task Ready => _ready.Task;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var names = services.GetRequiredService<StorageNames>();
        var queues = services.GetRequiredService<IReadOnlyList<(string Function, QueueListener Listener)>>().Select(l => l.Listener.Queue).ToList();
        var delay = TimeSpan.FromMilliseconds(250);
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await services.GetRequiredService<TransactionStore>().EnsureCreatedAsync(stoppingToken);
                foreach (var d in services.GetServices<ParticipantDispatcher>())
                {
                    if (d.ResourceManager is IRequiresInitialization resourceManager)
                    {
                        await resourceManager.EnsureCreatedAsync(stoppingToken);
                    }
                }

                await services.GetRequiredService<QueueTransport>().EnsureQueuesAsync([.. queues, names.CoordinatorQueue], stoppingToken);
                HostLogs.StorageReady(logger, names.TransactionsTable, string.Join(", ", queues));
                _ready.TrySetResult();
                return;
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                HostLogs.StorageUnavailable(logger, ex.Message);
                await Task.Delay(delay, stoppingToken);
                delay = TimeSpan.FromMilliseconds(Math.Min(delay.TotalMilliseconds * 2, 5000));
            }
        }
    }
}
