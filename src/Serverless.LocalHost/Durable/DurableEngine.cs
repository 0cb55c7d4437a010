using DurableTask.AzureStorage;
using DurableTask.Core;
using Microsoft.DurableTask.Worker;
using Microsoft.DurableTask.Worker.Shims;
using Serverless.LocalHost.Catalog;
using Serverless.LocalHost.Invocation;

namespace Serverless.LocalHost.Durable;

/// <summary>
/// Runs the app's orchestrator and activity functions on Durable Task's own engine: DurableTask.Core's
/// <see cref="TaskHubWorker"/> over the Azure Storage backend (the default backend of Durable Functions), each function
/// wrapped by the Durable Task SDK's shims as Durable Functions' isolated worker does. Retries the start until storage answers.
/// </summary>
public sealed class DurableEngine(
    AzureStorageOrchestrationService service,
    AzureStorageOrchestrationServiceSettings settings,
    IReadOnlyList<LocalFunction> functions,
    FunctionInvoker invoker,
    InstanceCompletions completions,
    DurableTaskWorkerOptions workerOptions,
    IServiceProvider services,
    ILoggerFactory loggerFactory,
    ILogger<DurableEngine> logger) : BackgroundService
{
    private TaskHubWorker? _worker;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var shims = new DurableTaskShimFactory(workerOptions, loggerFactory);
        var orchestrations = new FunctionRegistry<TaskOrchestration>();
        var activities = new FunctionRegistry<TaskActivity>();
        foreach (var function in functions)
        {
            if (function.Trigger == TriggerKind.Orchestration)
            {
                var orchestrator = new FunctionOrchestrator(function, invoker);
                orchestrations.Add(new FunctionCreator<TaskOrchestration>(function.Name, () => shims.CreateOrchestration(function.Name, orchestrator)));
            }
            else if (function.Trigger == TriggerKind.Activity)
            {
                var activity = new FunctionActivity(function, invoker, services);
                activities.Add(new FunctionCreator<TaskActivity>(function.Name, () => shims.CreateActivity(function.Name, activity)));
            }
        }

        var delay = TimeSpan.FromMilliseconds(250);
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                // The backend's calls take no token: stop waiting for them when the host stops (storage may be down).
                await service.CreateIfNotExistsAsync().WaitAsync(stoppingToken);
                var worker = new TaskHubWorker(new CommitNotifyingService(service, completions), orchestrations, activities, loggerFactory);
                await worker.StartAsync().WaitAsync(stoppingToken);
                _worker = worker;
                logger.DurableStarted(settings.TaskHubName, settings.PartitionCount, settings.WorkerId, settings.MaxQueuePollingInterval);
                return;
            }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
            {
                logger.DurableStartFailed(ex.Message);
                await Task.Delay(delay, stoppingToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
                delay = TimeSpan.FromMilliseconds(Math.Min(delay.TotalMilliseconds * 2, 5000));
            }
        }
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);
        if (_worker is not null)
        {
            // Not forced: work items in progress finish (or are abandoned to be retried) before the host exits.
            await _worker.StopAsync(isForced: false).WaitAsync(TimeSpan.FromSeconds(10), cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
    }
}
