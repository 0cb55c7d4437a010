using Microsoft.Extensions.Logging;

namespace Serverless.Functions.Hosting;

/// <summary>
/// Bounds how long an API request may wait on storage. Storage that refuses connections fails fast, but storage
/// that accepts them and never answers would hold a request for the SDK's network timeout times its attempts (over a
/// minute); past the budget the request is cancelled and answered 503, like any other outage.
/// </summary>
/// <remarks>
/// A cancelled request may have done part of its work; every route is safe to repeat (a start with the same
/// transactionId is the same transaction). A start's <c>waitSeconds</c> is added to the budget. Only <c>/api</c>
/// routes are bounded: the Functions host's invocations of the queue functions have their own timeout.
/// </remarks>
public static class RequestTimeBudget
{
    public static IApplicationBuilder UseRequestTimeBudget(this IApplicationBuilder app, TimeSpan budget) =>
        app.Use(async (context, next) =>
        {
            if (!context.Request.Path.StartsWithSegments("/api", StringComparison.OrdinalIgnoreCase))
            {
                await next(context);
                return;
            }

            var client = context.RequestAborted;
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(client);
            timeout.CancelAfter(budget + WaitSeconds(context.Request));
            context.RequestAborted = timeout.Token;
            try
            {
                await next(context);
            }
            catch (OperationCanceledException) when (timeout.IsCancellationRequested && !client.IsCancellationRequested && !context.Response.HasStarted)
            {
                context.RequestAborted = client;
                var logger = context.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(RequestTimeBudget));
                HostLogs.RequestOverBudget(logger, context.Request.Method, context.Request.Path, budget.TotalSeconds);
                context.Response.Clear();
                await TypedResults.Problem(
                    "storage did not answer in time; retry the request (starting a transaction again with the same transactionId is safe)",
                    statusCode: StatusCodes.Status503ServiceUnavailable,
                    title: "Service unavailable.").ExecuteAsync(context);
            }
            finally
            {
                context.RequestAborted = client;
            }
        });

    /// <summary>A start's long poll, 0–60 s; anything else counts as 0 (the route answers 400 for it).</summary>
    private static TimeSpan WaitSeconds(HttpRequest request) =>
        request.Query.TryGetValue("waitSeconds", out var text)
        && int.TryParse(text.ToString(), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var seconds)
        && seconds <= 60
            ? TimeSpan.FromSeconds(seconds)
            : TimeSpan.Zero;
}
