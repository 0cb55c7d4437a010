using Microsoft.Extensions.Logging;

namespace Serverless.Participants.Postgres;

/// <summary>Every log line of the PostgreSQL participant, with stable event ids (4000–4099).</summary>
internal static partial class Logs
{
    [LoggerMessage(4000, LogLevel.Debug, "Transaction {TransactionId}: participant {Participant} branch {Branch} voted {Vote} ({Reason})")]
    public static partial void Voted(this ILogger logger, string transactionId, string participant, int branch, string vote, string? reason);

    [LoggerMessage(4001, LogLevel.Debug, "Transaction {TransactionId}: participant {Participant} branch {Branch} repeated its vote {Vote} (branch {Phase})")]
    public static partial void VoteRepeated(this ILogger logger, string transactionId, string participant, int branch, string vote, string phase);

    [LoggerMessage(4002, LogLevel.Debug, "Transaction {TransactionId}: participant {Participant} branch {Branch} {Outcome}")]
    public static partial void Finished(this ILogger logger, string transactionId, string participant, int branch, string outcome);

    [LoggerMessage(4003, LogLevel.Debug, "Transaction {TransactionId}: participant {Participant} branch {Branch} {Command} lost a race (attempt {Attempt}); reading again")]
    public static partial void RaceLost(this ILogger logger, string transactionId, string participant, int branch, string command, int attempt);
}
