using Microsoft.Extensions.Logging;

namespace Serverless.Runtime;

/// <summary>Every log line of the runtime, with stable event ids; lines about a transaction carry {TransactionId}.</summary>
internal static partial class Logs
{
    [LoggerMessage(1000, LogLevel.Information, "Transaction {TransactionId} started with {BranchCount} branches, deadline {Deadline:o}")]
    public static partial void TransactionStarted(this ILogger logger, string transactionId, int branchCount, DateTimeOffset deadline);

    [LoggerMessage(1001, LogLevel.Information, "Transaction {TransactionId} decided {Decision}: {Reason}")]
    public static partial void TransactionDecided(this ILogger logger, string transactionId, string decision, string? reason);

    [LoggerMessage(1002, LogLevel.Information, "Transaction {TransactionId} ended {Status}")]
    public static partial void TransactionCompleted(this ILogger logger, string transactionId, string status);

    [LoggerMessage(1003, LogLevel.Debug, "Transaction {TransactionId}: {Event} from branch {Branch} applied ({Kind})")]
    public static partial void EventApplied(this ILogger logger, string transactionId, string @event, int branch, string kind);

    [LoggerMessage(1004, LogLevel.Warning, "Transaction {TransactionId}: {Event} rejected: {Detail}")]
    public static partial void EventRejected(this ILogger logger, string transactionId, string @event, string? detail);

    [LoggerMessage(1005, LogLevel.Debug, "Transaction {TransactionId}: checkpoint conflict, reloading (attempt {Attempt})")]
    public static partial void CheckpointConflict(this ILogger logger, string transactionId, int attempt);

    [LoggerMessage(1006, LogLevel.Information, "Transaction {TransactionId} is unknown; presumed abort for participant {Participant} branch {Branch}")]
    public static partial void PresumedAbort(this ILogger logger, string transactionId, string participant, int branch);

    [LoggerMessage(1007, LogLevel.Warning, "Transaction {TransactionId} is unknown; {Event} ignored")]
    public static partial void UnknownTransaction(this ILogger logger, string transactionId, string @event);

    [LoggerMessage(1008, LogLevel.Information, "Transaction {TransactionId}: start repeated with the same request; resuming")]
    public static partial void StartRepeated(this ILogger logger, string transactionId);

    [LoggerMessage(2000, LogLevel.Debug, "Transaction {TransactionId}: participant {Participant} branch {Branch} {Command} -> {Result}")]
    public static partial void ParticipantHandled(this ILogger logger, string transactionId, string participant, int branch, string command, string result);

    [LoggerMessage(2001, LogLevel.Critical, "Transaction {TransactionId}: participant {Participant} branch {Branch} refused {Command}: {Detail}")]
    public static partial void ProtocolViolation(this ILogger logger, string transactionId, string participant, int branch, string command, string detail);

    [LoggerMessage(3000, LogLevel.Error, "Queue {Queue}: message {MessageId} moved to the poison queue after {DequeueCount} deliveries: {Reason}")]
    public static partial void MessagePoisoned(this ILogger logger, string queue, string messageId, long dequeueCount, string reason);

    [LoggerMessage(3001, LogLevel.Warning, "Queue {Queue}: message {MessageId} for transaction {TransactionId} failed (delivery {DequeueCount}); retrying")]
    public static partial void MessageFailed(this ILogger logger, Exception exception, string queue, string messageId, string transactionId, long dequeueCount);

    [LoggerMessage(3002, LogLevel.Error, "Queue {Queue}: listener error; backing off")]
    public static partial void ListenerError(this ILogger logger, Exception exception, string queue);

    [LoggerMessage(3005, LogLevel.Warning, "Queue {Queue}: message {MessageId} for transaction {TransactionId} failed (delivery {DequeueCount}): storage is not reachable ({Error}); retrying")]
    public static partial void MessageFailedStorageUnreachable(this ILogger logger, string queue, string messageId, string transactionId, long dequeueCount, string error);

    [LoggerMessage(3004, LogLevel.Warning, "Queue {Queue}: storage is not reachable ({Error}); backing off")]
    public static partial void StorageUnreachable(this ILogger logger, string queue, string error);

    [LoggerMessage(3003, LogLevel.Information, "Queue {Queue}: listening (batchSize {BatchSize}, newBatchThreshold {NewBatchThreshold}, maxPollingInterval {MaxPollingInterval})")]
    public static partial void ListenerStarted(this ILogger logger, string queue, int batchSize, int newBatchThreshold, TimeSpan maxPollingInterval);
}
