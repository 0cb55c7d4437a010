using Azure;
using Microsoft.Extensions.Logging;
using Serverless.Functions.Settings;
using Serverless.Functions.Storage;

namespace Serverless.Functions.Http;

/// <summary>
/// Runs an HTTP function's handler within the request budget (<see cref="TransactionsSettings.RequestTimeoutSeconds"/>, plus a
/// start's <c>waitSeconds</c>) and turns failures into problem documents: storage that is down or does not answer in time is a
/// 503 (retry later; every route is safe to repeat), anything else a 500 that is logged.
/// </summary>
public sealed class ApiGuard(TransactionsSettings settings, ILogger<ApiGuard> logger)
{
    public async Task<IResult> RunAsync(HttpRequest request, Func<CancellationToken, Task<IResult>> handler, TimeSpan extra = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(handler);
        var client = request.HttpContext.RequestAborted;
        var budget = TimeSpan.FromSeconds(settings.RequestTimeoutSeconds);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(client);
        timeout.CancelAfter(budget + extra);
        try
        {
            return await handler(timeout.Token);
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested && !client.IsCancellationRequested)
        {
            logger.RequestOverBudget(request.Method, request.Path, budget.TotalSeconds);
            return Unavailable("storage did not answer in time");
        }
        catch (Exception ex) when (StorageErrors.IsUnreachable(ex) || ex is RequestFailedException { Status: >= 500 })
        {
            logger.RequestStorageUnreachable(request.Method, request.Path, StorageErrors.Describe(ex));
            return Unavailable("storage is not reachable right now");
        }
        catch (Exception ex) when (!client.IsCancellationRequested)
        {
            logger.RequestFailed(ex, request.Method, request.Path);
            return TypedResults.Problem("an unexpected error occurred; see the host's log", statusCode: StatusCodes.Status500InternalServerError);
        }
    }

    private static IResult Unavailable(string what) => TypedResults.Problem(
        $"{what}; retry the request (starting a transaction again with the same transactionId is safe)",
        statusCode: StatusCodes.Status503ServiceUnavailable,
        title: "Service unavailable.");
}
