using Azure;

namespace Serverless.Functions.Storage;

/// <summary>Classifies storage failures, so that an outage is reported as one line and not as a stack trace per poll.</summary>
public static class StorageErrors
{
    /// <summary>True when storage did not answer at all (refused, reset, timed out), as opposed to answering with an error.</summary>
    public static bool IsUnreachable(Exception exception) => exception switch
    {
        RequestFailedException { Status: 0 } => true,
        HttpRequestException or TimeoutException or System.Net.Sockets.SocketException => true,

        // The SDK's retry policy gives up with every attempt's exception.
        AggregateException aggregate => aggregate.InnerExceptions.Count > 0 && aggregate.InnerExceptions.All(IsUnreachable),

        // Durable Task's storage layer wraps the SDK's exception.
        { InnerException: { } inner } => IsUnreachable(inner),
        _ => false,
    };

    /// <summary>The innermost message: "Connection refused (127.0.0.1:10001)" rather than the retry policy's summary.</summary>
    public static string Describe(Exception exception)
    {
        ArgumentNullException.ThrowIfNull(exception);
        var inner = exception is AggregateException { InnerExceptions.Count: > 0 } aggregate ? aggregate.InnerExceptions[^1] : exception;
        while (inner.InnerException is not null)
        {
            inner = inner.InnerException;
        }

        return inner.Message;
    }
}
