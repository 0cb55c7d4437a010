using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Serverless.Runtime.Messaging;
using Serverless.Runtime.Participants;
using Serverless.Runtime.Storage;

namespace Serverless.Functions.Hosting;

/// <summary>Creates the tables and queues at start, waiting for storage to come up (for a while) rather than failing at once.</summary>
public sealed class StorageInitializer(IServiceProvider services, ILogger<StorageInitializer> logger) : IHostedService
{
    private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Completes once every table and queue exists.</summary>
    public Task Ready => _ready.Task;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var names = services.GetRequiredService<StorageNames>();
        var queues = TransactionsServices.Handlers(services).Select(h => h.Queue).ToList();
        var deadline = DateTimeOffset.UtcNow.AddSeconds(60);
        while (true)
        {
            try
            {
                await services.GetRequiredService<TransactionStore>().EnsureCreatedAsync(cancellationToken);
                foreach (var d in services.GetServices<ParticipantDispatcher>())
                {
                    if (d.ResourceManager is IRequiresInitialization resourceManager)
                    {
                        await resourceManager.EnsureCreatedAsync(cancellationToken);
                    }
                }

                await services.GetRequiredService<QueueTransport>().EnsureQueuesAsync([.. queues, names.CoordinatorQueue], cancellationToken);
                HostLogs.StorageReady(logger, names.TransactionsTable, string.Join(", ", queues));
                _ready.TrySetResult();
                return;
            }
            catch (Exception ex) when (ex is not OperationCanceledException && DateTimeOffset.UtcNow < deadline)
            {
                HostLogs.StorageUnavailable(logger, ex.Message);
                await Task.Delay(TimeSpan.FromSeconds(1), cancellationToken);
            }
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
