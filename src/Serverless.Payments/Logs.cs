namespace Serverless.Payments;

internal static partial class Logs
{
    [LoggerMessage(1, LogLevel.Information, "Journal {Path}: {Entries} entries replayed")]
    public static partial void JournalReplayed(this ILogger logger, string path, int entries);

    [LoggerMessage(2, LogLevel.Warning, "Journal {Path}: its last line was torn (a crash mid-write); ignored and cut off")]
    public static partial void TornLineIgnored(this ILogger logger, string path);

    [LoggerMessage(3, LogLevel.Information, "Fault {Fault} applied to a {Operation} request on account {Account} (key {Key})")]
    public static partial void FaultApplied(this ILogger logger, Fault fault, string operation, string account, string key);

    [LoggerMessage(4, LogLevel.Warning, "Refused {Method} {Path} with 401: {Reason}")]
    public static partial void RequestRefused(this ILogger logger, string method, string path, string reason);
}
