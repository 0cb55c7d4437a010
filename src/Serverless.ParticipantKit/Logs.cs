using Microsoft.Extensions.Logging;

namespace Serverless.ParticipantKit;

/// <summary>The kit's log lines, with the event ids the coordinator's app has always used for them; each about a branch carries {TransactionId} and {Participant}.</summary>
internal static partial class Logs
{
    [LoggerMessage(2000, LogLevel.Debug, "Transaction {TransactionId}: participant {Participant} branch {Branch} {Command} -> {Result}")]
    public static partial void ParticipantHandled(this ILogger logger, string transactionId, string participant, int branch, string command, string result);

    [LoggerMessage(2001, LogLevel.Critical, "Transaction {TransactionId}: participant {Participant} branch {Branch} refused {Command}: {Detail}")]
    public static partial void ProtocolViolation(this ILogger logger, string transactionId, string participant, int branch, string command, string detail);

    [LoggerMessage(2020, LogLevel.Information, "Transaction {TransactionId}: participant {Participant} branch {Branch} has been prepared since {PreparedAt:o} without a decision; asking the coordinator")]
    public static partial void AskingAboutBranch(this ILogger logger, string transactionId, string participant, int branch, DateTimeOffset preparedAt);

    [LoggerMessage(2021, LogLevel.Warning, "Transaction {TransactionId}: the in-doubt inquiry of participant {Participant} branch {Branch} failed ({Error}); asking again at the next pass")]
    public static partial void InquiryFailed(this ILogger logger, Exception exception, string transactionId, string participant, int branch, string error);

    [LoggerMessage(2022, LogLevel.Warning, "In-doubt inquiries of participant {Participant} failed; asking again at the next pass")]
    public static partial void InquiryPassFailed(this ILogger logger, Exception exception, string participant);

    [LoggerMessage(2023, LogLevel.Warning, "Participant {Participant}: its storage could not be initialized yet ({Error}); retrying in {DelaySeconds} s")]
    public static partial void InitializationFailed(this ILogger logger, string participant, string error, double delaySeconds);

    [LoggerMessage(3000, LogLevel.Error, "Queue {Queue}: a message was moved to the poison queue without being acted on: {Reason}")]
    public static partial void MessagePoisoned(this ILogger logger, string queue, string reason);
}
