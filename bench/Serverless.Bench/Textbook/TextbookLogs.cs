using Microsoft.Extensions.Logging;

namespace Serverless.Bench.Textbook;

/// <summary>The textbook orchestration's log lines; warnings, so that the benchmark's log counter reports them per phase.</summary>
internal static partial class TextbookLogs
{
    [LoggerMessage(EventId = 9001, Level = LogLevel.Warning, Message = "Textbook {TransactionId}: the vote deadline passed before every vote came; aborting")]
    public static partial void TextbookVotesTimedOut(this ILogger logger, string transactionId);

    [LoggerMessage(EventId = 9002, Level = LogLevel.Warning, Message = "Textbook {TransactionId}: not every acknowledgement came in time; ending without them")]
    public static partial void TextbookAcksTimedOut(this ILogger logger, string transactionId);
}
