using Microsoft.AspNetCore.Http.HttpResults;
using Serverless.Runtime.Storage;

namespace Serverless.Functions.Api;

/// <summary>
/// <c>GET /api/metrics/storage</c>: the storage requests this process has sent since it started, by kind
/// (<see cref="StorageOperation"/>), as counted on the wire by <see cref="StorageMetrics"/>. The benchmark reads it
/// from host processes it cannot inspect in memory; the same counts are the <c>Serverless.Storage</c> meter.
/// </summary>
public static class MetricsApi
{
    public static void MapMetricsApi(this RouteGroupBuilder api)
    {
        api.MapGet("/metrics/storage", Ok<Dictionary<string, long>> (StorageMetrics metrics) =>
            TypedResults.Ok(metrics.Snapshot().ToDictionary(c => c.Key.ToString(), c => c.Value, StringComparer.Ordinal)));
    }
}
