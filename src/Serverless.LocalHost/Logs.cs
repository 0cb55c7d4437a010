using Microsoft.Extensions.Logging;

namespace Serverless.LocalHost;

/// <summary>Every log line of the local host, with stable event ids.</summary>
internal static partial class Logs
{
    [LoggerMessage(5000, LogLevel.Information, "Function {Function}: {Trigger} {Detail}")]
    public static partial void FunctionServed(this ILogger logger, string function, string trigger, string detail);

    [LoggerMessage(5001, LogLevel.Information, "Function {Function} is disabled by AzureWebJobs.{Function}.Disabled")]
    public static partial void FunctionDisabled(this ILogger logger, string function);

    [LoggerMessage(5002, LogLevel.Information, "Durable Task: task hub {TaskHub}, {PartitionCount} partitions, worker {WorkerId}, polling up to {MaxPollingInterval}")]
    public static partial void DurableStarted(this ILogger logger, string taskHub, int partitionCount, string workerId, TimeSpan maxPollingInterval);

    [LoggerMessage(5003, LogLevel.Warning, "Durable Task could not start yet ({Error}); retrying")]
    public static partial void DurableStartFailed(this ILogger logger, string error);

    [LoggerMessage(5004, LogLevel.Error, "Function {Function} failed")]
    public static partial void FunctionFailed(this ILogger logger, Exception exception, string function);

    [LoggerMessage(5005, LogLevel.Information, "Timer function {Function}: next run at {Next:o}")]
    public static partial void TimerScheduled(this ILogger logger, string function, DateTimeOffset next);

    [LoggerMessage(5006, LogLevel.Information, "Hosting the Functions app {App} from {Root} (task hub: {TaskHub})")]
    public static partial void AppHosted(this ILogger logger, string app, string root, string taskHub);

    [LoggerMessage(5007, LogLevel.Information, "Durable management API: {Operation} of instance {InstanceId} ({Detail})")]
    public static partial void ManagementOperation(this ILogger logger, string operation, string instanceId, string detail);

    [LoggerMessage(5100, LogLevel.Error, "Queue {Queue}: message {MessageId} moved to the poison queue after {DequeueCount} deliveries")]
    public static partial void MessagePoisoned(this ILogger logger, string queue, string messageId, long dequeueCount);

    [LoggerMessage(5101, LogLevel.Warning, "Queue {Queue}: message {MessageId} failed (delivery {DequeueCount}); retrying")]
    public static partial void MessageFailed(this ILogger logger, Exception exception, string queue, string messageId, long dequeueCount);

    [LoggerMessage(5102, LogLevel.Error, "Queue {Queue}: listener error; backing off")]
    public static partial void ListenerError(this ILogger logger, Exception exception, string queue);

    [LoggerMessage(5103, LogLevel.Information, "Queue {Queue}: listening (batchSize {BatchSize}, newBatchThreshold {NewBatchThreshold}, maxPollingInterval {MaxPollingInterval})")]
    public static partial void ListenerStarted(this ILogger logger, string queue, int batchSize, int newBatchThreshold, TimeSpan maxPollingInterval);

    [LoggerMessage(5104, LogLevel.Warning, "Queue {Queue}: storage is not reachable ({Error}); backing off")]
    public static partial void StorageUnreachable(this ILogger logger, string queue, string error);

    [LoggerMessage(5105, LogLevel.Warning, "Queue {Queue}: message {MessageId} failed (delivery {DequeueCount}): storage is not reachable ({Error}); retrying")]
    public static partial void MessageFailedStorageUnreachable(this ILogger logger, string queue, string messageId, long dequeueCount, string error);

    [LoggerMessage(5106, LogLevel.Error, "Queue {Queue}: a message that is not base64 was moved to the poison queue unread")]
    public static partial void UndecodableMessage(this ILogger logger, string queue);
}
