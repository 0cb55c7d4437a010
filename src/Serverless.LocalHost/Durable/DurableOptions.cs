using Azure.Core;
using Azure.Data.Tables;
using Azure.Storage.Blobs;
using Azure.Storage.Queues;
using DurableTask.AzureStorage;
using Serverless.Functions.Faults;
using Serverless.Functions.Settings;
using Serverless.Functions.Storage;
using Serverless.LocalHost.Configuration;

namespace Serverless.LocalHost.Durable;

/// <summary>
/// host.json's <c>extensions.durableTask</c> (with <c>AzureFunctionsJobHost__…</c> overrides) as the Azure Storage backend's
/// settings, with Durable Functions' meaning and defaults: <c>hubName</c>, <c>maxConcurrentActivityFunctions</c>,
/// <c>maxConcurrentOrchestratorFunctions</c>, <c>extendedSessionsEnabled</c>, <c>extendedSessionIdleTimeoutInSeconds</c>, and
/// <c>storageProvider</c>'s <c>partitionCount</c>, <c>controlQueueBatchSize</c>, <c>controlQueueBufferThreshold</c>,
/// <c>controlQueueVisibilityTimeout</c>, <c>workItemQueueVisibilityTimeout</c>, <c>maxQueuePollingInterval</c>,
/// <c>useTablePartitionManagement</c>.
/// </summary>
public static class DurableOptions
{
    /// <summary>
    /// The backend's settings for <paramref name="connectionString"/>. The worker id is <c>LOCALHOST_WORKER_ID</c>, else the
    /// machine's name: a restarted host takes its partitions back at once, and two hosts on one machine need distinct ids.
    /// </summary>
    /// <param name="configuration">The host's configuration.</param>
    /// <param name="connectionString">The storage account of the task hub.</param>
    /// <param name="defaultTaskHub">The task hub's name when neither host.json nor a setting names one.</param>
    /// <param name="metrics">Counts the engine's storage requests with the app's own, when the app has such a counter.</param>
    /// <param name="loggerFactory">The engine's logs.</param>
    public static AzureStorageOrchestrationServiceSettings From(
        IConfiguration configuration, string connectionString, string defaultTaskHub, StorageMetrics? metrics, ILoggerFactory loggerFactory)
    {
        ArgumentNullException.ThrowIfNull(configuration);

        // host.json is in the configuration (FunctionsConfiguration), so only the default is the app's own.
        var taskHub = string.IsNullOrWhiteSpace(configuration[TransactionsSettings.TaskHubKey])
            ? defaultTaskHub
            : TransactionsSettings.TaskHubName(configuration, appDirectory: string.Empty);
        var durable = configuration.GetSection($"{FunctionsConfiguration.HostSection}:extensions:durableTask");
        var storage = durable.GetSection("storageProvider");
        var processors = Environment.ProcessorCount;
        var settings = new AzureStorageOrchestrationServiceSettings
        {
            TaskHubName = taskHub,
            StorageAccountClientProvider = Clients(connectionString, metrics, taskHub),
            WorkerId = configuration["LOCALHOST_WORKER_ID"] is { Length: > 0 } id ? id : Environment.MachineName,
            AppName = "Serverless.LocalHost",
            UseAppLease = false,
            LoggerFactory = loggerFactory,
            PartitionCount = FunctionsConfiguration.Whole(storage, "partitionCount") ?? 4,
            ControlQueueBatchSize = FunctionsConfiguration.Whole(storage, "controlQueueBatchSize") ?? 32,
            ControlQueueBufferThreshold = FunctionsConfiguration.Whole(storage, "controlQueueBufferThreshold") ?? 256,
            ControlQueueVisibilityTimeout = FunctionsConfiguration.Span(storage, "controlQueueVisibilityTimeout") ?? TimeSpan.FromMinutes(5),
            WorkItemQueueVisibilityTimeout = FunctionsConfiguration.Span(storage, "workItemQueueVisibilityTimeout") ?? TimeSpan.FromMinutes(5),
            MaxQueuePollingInterval = FunctionsConfiguration.Span(storage, "maxQueuePollingInterval") ?? TimeSpan.FromSeconds(30),
            UseTablePartitionManagement = FunctionsConfiguration.Flag(storage, "useTablePartitionManagement") ?? true,
            MaxConcurrentTaskActivityWorkItems = FunctionsConfiguration.Whole(durable, "maxConcurrentActivityFunctions") ?? 10 * processors,
            MaxConcurrentTaskOrchestrationWorkItems = FunctionsConfiguration.Whole(durable, "maxConcurrentOrchestratorFunctions") ?? 10 * processors,
            ExtendedSessionsEnabled = FunctionsConfiguration.Flag(durable, "extendedSessionsEnabled") ?? false,
            ExtendedSessionIdleTimeout = TimeSpan.FromSeconds(FunctionsConfiguration.Whole(durable, "extendedSessionIdleTimeoutInSeconds") ?? 30),
            ThrowExceptionOnInvalidDedupeStatus = true,
        };
        return settings;
    }

    /// <summary>The engine's storage clients, with the app's request counter in their pipelines (and an armed crash point's watch).</summary>
    private static StorageAccountClientProvider Clients(string connectionString, StorageMetrics? metrics, string taskHub)
    {
        var blob = new BlobClientOptions();
        var queue = new QueueClientOptions();
        var table = new TableClientOptions();
        foreach (var options in new ClientOptions[] { blob, queue, table })
        {
            StorageClients.BoundRetries(options);
        }

        if (metrics is not null)
        {
            blob.AddPolicy(metrics.Policy(StorageService.Blob), HttpPipelinePosition.PerRetry);
            queue.AddPolicy(metrics.Policy(StorageService.Queue), HttpPipelinePosition.PerRetry);
            table.AddPolicy(metrics.Policy(StorageService.Table), HttpPipelinePosition.PerRetry);
        }

        if (CrashPoints.IsArmed(CrashPoint.AfterEpisodeMessagesSent))
        {
            var crash = new EpisodeCrashPolicy(taskHub);
            queue.AddPolicy(crash.Queue, HttpPipelinePosition.PerRetry);
            table.AddPolicy(crash.Table, HttpPipelinePosition.PerRetry);
        }

        return new StorageAccountClientProvider(
            StorageServiceClientProvider.ForBlob(connectionString, blob),
            StorageServiceClientProvider.ForQueue(connectionString, queue),
            StorageServiceClientProvider.ForTable(connectionString, table));
    }
}
