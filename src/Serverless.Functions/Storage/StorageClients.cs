using Azure.Core;
using Azure.Data.Tables;
using Azure.Identity;
using Azure.Storage.Queues;

namespace Serverless.Functions.Storage;

/// <summary>
/// The Azure SDK clients of the app's own storage (participant inboxes, decision records, the sample participants'
/// tables), from Functions-style settings: a connection string in <c>AzureWebJobsStorage</c>, or identity-based settings
/// (<c>AzureWebJobsStorage__accountName</c>, optional <c>__clientId</c>) with a managed identity, so that no account key
/// need exist. Queue messages are base64, what the Functions queue trigger reads by default.
/// </summary>
public sealed class StorageClients
{
    private StorageClients(QueueServiceClient queues, QueueServiceClient taskHubQueues, TableServiceClient tables)
    {
        Queues = queues;
        TaskHubQueues = taskHubQueues;
        Tables = tables;
    }

    private static readonly TimeSpan AppNetworkTimeout = TimeSpan.FromSeconds(20);

    public QueueServiceClient Queues { get; }

    /// <summary>The same account's queues with messages as they are stored: Durable Task's, which are JSON text, not base64.</summary>
    public QueueServiceClient TaskHubQueues { get; }

    public TableServiceClient Tables { get; }

    /// <summary>
    /// Retries that give up within about 2 s when storage is not reachable, so that a request answers 503 quickly in an
    /// outage: 3 retries from 0.2 s, at most 1 s apart (the SDK's defaults, up to 5 retries from 0.8 s doubling, take
    /// 25 s, and Durable Task's storage throttle holds its slot through them, so that every other request waits as well).
    /// The app's own clients also give up on a request that hangs after 20 s (<paramref name="networkTimeout"/>); Durable
    /// Task's keep the SDK's 100 s, which its leases and its own retries are tuned to.
    /// </summary>
    public static void BoundRetries(ClientOptions options, TimeSpan? networkTimeout = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Retry.MaxRetries = 3;
        options.Retry.Delay = TimeSpan.FromMilliseconds(200);
        options.Retry.MaxDelay = TimeSpan.FromSeconds(1);
        if (networkTimeout is { } timeout)
        {
            options.Retry.NetworkTimeout = timeout;
        }
    }

    /// <param name="connectionString">A storage connection string, or null to use <paramref name="accountName"/>.</param>
    /// <param name="accountName">The account for identity-based access.</param>
    /// <param name="clientId">The user-assigned managed identity's client id, or null for the system identity.</param>
    /// <param name="metrics">Counts every request.</param>
    public static StorageClients Create(string? connectionString, string? accountName, string? clientId, StorageMetrics metrics)
    {
        ArgumentNullException.ThrowIfNull(metrics);
        var queueOptions = new QueueClientOptions { MessageEncoding = QueueMessageEncoding.Base64 };
        var rawQueueOptions = new QueueClientOptions();
        var tableOptions = new TableClientOptions();
        rawQueueOptions.AddPolicy(metrics.Policy(StorageService.Queue), HttpPipelinePosition.PerRetry);
        queueOptions.AddPolicy(metrics.Policy(StorageService.Queue), HttpPipelinePosition.PerRetry);
        tableOptions.AddPolicy(metrics.Policy(StorageService.Table), HttpPipelinePosition.PerRetry);
        BoundRetries(queueOptions, AppNetworkTimeout);
        BoundRetries(rawQueueOptions, AppNetworkTimeout);
        BoundRetries(tableOptions, AppNetworkTimeout);

        if (!string.IsNullOrWhiteSpace(connectionString))
        {
            return new StorageClients(
                new QueueServiceClient(connectionString, queueOptions),
                new QueueServiceClient(connectionString, rawQueueOptions),
                new TableServiceClient(connectionString, tableOptions));
        }

        if (string.IsNullOrWhiteSpace(accountName))
        {
            throw new InvalidOperationException(
                "No storage configured: set AzureWebJobsStorage to a connection string, or AzureWebJobsStorage__accountName for a managed identity.");
        }

        TokenCredential credential = new ManagedIdentityCredential(
            string.IsNullOrWhiteSpace(clientId) ? ManagedIdentityId.SystemAssigned : ManagedIdentityId.FromUserAssignedClientId(clientId));
        var queueUri = new Uri($"https://{accountName}.queue.core.windows.net");
        return new StorageClients(
            new QueueServiceClient(queueUri, credential, queueOptions),
            new QueueServiceClient(queueUri, credential, rawQueueOptions),
            new TableServiceClient(new Uri($"https://{accountName}.table.core.windows.net"), credential, tableOptions));
    }
}
