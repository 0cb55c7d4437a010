using Microsoft.Extensions.Logging;

namespace Serverless.Functions.Hosting;

internal static partial class HostLogs
{
    [LoggerMessage(4000, LogLevel.Error, "Queue {Queue}: a message that is not base64 was moved to the poison queue unread")]
    public static partial void UndecodableMessage(ILogger logger, string queue);

    [LoggerMessage(4001, LogLevel.Warning, "Storage is not reachable yet ({Error}); retrying")]
    public static partial void StorageUnavailable(ILogger logger, string error);

    [LoggerMessage(4002, LogLevel.Information, "Storage ready: table {Table}, queues {Queues}")]
    public static partial void StorageReady(ILogger logger, string table, string queues);
}
