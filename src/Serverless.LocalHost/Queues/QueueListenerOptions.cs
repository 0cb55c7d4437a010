using Serverless.LocalHost.Configuration;

namespace Serverless.LocalHost.Queues;

/// <summary>
/// The <c>extensions.queues</c> settings of host.json, with Azure Functions' meaning and defaults.
/// </summary>
public sealed record QueueListenerOptions
{
    /// <summary>Messages fetched and processed in parallel per fetch. Default 16 (max 32).</summary>
    public int BatchSize { get; init; } = 16;

    /// <summary>A new batch is fetched when in-flight messages drop to this. Default: half of <see cref="BatchSize"/>.</summary>
    public int? NewBatchThreshold { get; init; }

    /// <summary>Longest wait between polls of an idle queue (exponential backoff from 100 ms). Default 1 minute.</summary>
    public TimeSpan MaxPollingInterval { get; init; } = TimeSpan.FromMinutes(1);

    /// <summary>How long a failed message stays invisible before it is retried. Default 0.</summary>
    public TimeSpan VisibilityTimeout { get; init; } = TimeSpan.Zero;

    /// <summary>Deliveries before a failing message moves to <c>{queue}-poison</c>. Default 5.</summary>
    public int MaxDequeueCount { get; init; } = 5;

    /// <summary>Whether messages are base64 (<c>messageEncoding</c> "base64", the default) or plain text ("none").</summary>
    public bool Base64 { get; init; } = true;

    /// <summary>
    /// How long a received message stays invisible while it is processed (Functions uses 10 minutes and renews); after a
    /// crash it reappears this much later. Default 30 seconds; <c>LOCALHOST_QUEUE_MESSAGE_LEASE_SECONDS</c> sets it.
    /// </summary>
    public TimeSpan MessageLease { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Shortest wait between polls. Default 100 ms.</summary>
    public TimeSpan MinPollingInterval { get; init; } = TimeSpan.FromMilliseconds(100);

    public int EffectiveBatchSize => Math.Clamp(BatchSize, 1, 32);

    public int EffectiveNewBatchThreshold => NewBatchThreshold is { } t && t >= 0 ? t : EffectiveBatchSize / 2;

    /// <summary>Reads <c>AzureFunctionsJobHost:extensions:queues</c>; defaults where absent.</summary>
    public static QueueListenerOptions From(IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var queues = configuration.GetSection($"{FunctionsConfiguration.HostSection}:extensions:queues");
        var defaults = new QueueListenerOptions();
        var encoding = queues["messageEncoding"];
        return defaults with
        {
            BatchSize = FunctionsConfiguration.Whole(queues, "batchSize") ?? defaults.BatchSize,
            NewBatchThreshold = FunctionsConfiguration.Whole(queues, "newBatchThreshold") ?? defaults.NewBatchThreshold,
            MaxPollingInterval = FunctionsConfiguration.Span(queues, "maxPollingInterval") ?? defaults.MaxPollingInterval,
            VisibilityTimeout = FunctionsConfiguration.Span(queues, "visibilityTimeout") ?? defaults.VisibilityTimeout,
            MaxDequeueCount = FunctionsConfiguration.Whole(queues, "maxDequeueCount") ?? defaults.MaxDequeueCount,
            Base64 = encoding is null || !encoding.Equals("none", StringComparison.OrdinalIgnoreCase),
            MessageLease = FunctionsConfiguration.Whole(configuration, "LOCALHOST_QUEUE_MESSAGE_LEASE_SECONDS") is { } lease
                ? TimeSpan.FromSeconds(lease)
                : defaults.MessageLease,
        };
    }
}
