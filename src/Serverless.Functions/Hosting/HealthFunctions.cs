using Microsoft.Azure.Functions.Worker;
using Serverless.Functions.Coordination;
using Serverless.Functions.Storage;

namespace Serverless.Functions.Hosting;

/// <summary>
/// <c>GET /api/health</c> (no key needed): 200 when storage answers within a few seconds and the app's tables exist
/// (<see cref="StorageInitializer"/> is done), 503 otherwise. <c>GET /api/metrics/storage</c>: the app's storage requests by kind.
/// </summary>
public sealed class HealthFunctions(DecisionStore decisions, StorageInitializer initializer, StorageMetrics metrics)
{
    public sealed record HealthDocument(string Status);

    [Function("Health")]
    public async Task<IResult> Health([HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = "health")] HttpRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (!initializer.Ready.IsCompletedSuccessfully)
        {
            // Storage may answer already, but a route used now could still meet a table that does not exist yet.
            return TypedResults.Problem(
                "starting: the app's tables are being created", statusCode: StatusCodes.Status503ServiceUnavailable, title: "Unhealthy.");
        }

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(request.HttpContext.RequestAborted);
        timeout.CancelAfter(TimeSpan.FromSeconds(3));
        try
        {
            await decisions.GetAsync("health", timeout.Token);
            return TypedResults.Ok(new HealthDocument("Healthy"));
        }
        catch (Exception ex) when (!request.HttpContext.RequestAborted.IsCancellationRequested)
        {
            return TypedResults.Problem(
                $"storage is not reachable: {StorageErrors.Describe(ex)}", statusCode: StatusCodes.Status503ServiceUnavailable, title: "Unhealthy.");
        }
    }

    /// <summary>The storage requests this process's app code has sent since it started, by kind, as counted on the wire.</summary>
    [Function("StorageMetrics")]
    public IResult StorageMetrics([HttpTrigger(AuthorizationLevel.Function, "get", Route = "metrics/storage")] HttpRequest request) =>
        TypedResults.Ok(metrics.Snapshot().ToDictionary(c => c.Key.ToString(), c => c.Value, StringComparer.Ordinal));
}
