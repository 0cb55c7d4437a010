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

    [LoggerMessage(4003, LogLevel.Information, "Transaction {TransactionId}: participant {Participant} branch {Branch} has been prepared since {PreparedAt:o} without a decision; asking the coordinator")]
    public static partial void InDoubtInquiry(ILogger logger, string transactionId, string participant, int branch, DateTimeOffset preparedAt);

    [LoggerMessage(4004, LogLevel.Error, "Transaction {TransactionId}: participant {Participant} branch {Branch} is in doubt but its record holds no operation to ask about; an operator must finish it")]
    public static partial void InDoubtWithoutOperation(ILogger logger, string transactionId, string participant, int branch);

    [LoggerMessage(4005, LogLevel.Warning, "In-doubt resolution for participant {Participant} failed; retrying next period")]
    public static partial void InDoubtPassFailed(ILogger logger, Exception exception, string participant);

    [LoggerMessage(4006, LogLevel.Warning, "In-doubt resolution for participant {Participant}: storage is not reachable ({Error}); retrying next period")]
    public static partial void InDoubtStorageUnreachable(ILogger logger, string participant, string error);

    [LoggerMessage(4007, LogLevel.Warning, "{Method} {Path}: storage is not reachable ({Error}); answered 503")]
    public static partial void RequestStorageUnreachable(ILogger logger, string method, string path, string error);

    [LoggerMessage(4008, LogLevel.Warning, "{Method} {Path}: storage did not answer within the request budget of {BudgetSeconds} s; answered 503")]
    public static partial void RequestOverBudget(ILogger logger, string method, string path, double budgetSeconds);
}
