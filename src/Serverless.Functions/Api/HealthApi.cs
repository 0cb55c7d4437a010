using Microsoft.AspNetCore.Http.HttpResults;
using Serverless.Runtime.Storage;

namespace Serverless.Functions.Api;

/// <summary><c>GET /api/health</c>: 200 when storage answers within a few seconds, 503 otherwise.</summary>
public static class HealthApi
{
    public sealed record HealthDocument(string Status);

    public static void MapHealthApi(this IEndpointRouteBuilder app)
    {
        app.MapGet("/api/health", async Task<Results<Ok<HealthDocument>, ProblemHttpResult>> (TransactionStore store, Hosting.StorageInitializer storage, CancellationToken ct) =>
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            timeout.CancelAfter(TimeSpan.FromSeconds(3));
            if (!storage.Ready.IsCompleted)
            {
                return TypedResults.Problem("storage is not initialized yet", statusCode: StatusCodes.Status503ServiceUnavailable, title: "Unhealthy.");
            }

            try
            {
                await foreach (var _ in store.Table.QueryAsync<Azure.Data.Tables.TableEntity>(filter: "PartitionKey eq 'health'", maxPerPage: 1, cancellationToken: timeout.Token))
                {
                    break;
                }

                return TypedResults.Ok(new HealthDocument("Healthy"));
            }
            catch (Exception ex) when (!ct.IsCancellationRequested)
            {
                return TypedResults.Problem($"storage is not reachable: {ex.GetType().Name}", statusCode: StatusCodes.Status503ServiceUnavailable, title: "Unhealthy.");
            }
        });
    }
}
