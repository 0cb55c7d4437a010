using Microsoft.Azure.Functions.Worker;
using Microsoft.DurableTask.Client;
using Serverless.Functions.Http;

namespace Serverless.Functions.Api;

/// <summary>The HTTP functions of the transactions API; each is a thin adapter over <see cref="TransactionsApi"/> or <see cref="TransactionListing"/>.</summary>
public sealed class TransactionsFunctions(TransactionsApi api, TransactionListing listing, ApiGuard guard)
{
    [Function("StartTransaction")]
    public Task<IResult> Start(
        [HttpTrigger(AuthorizationLevel.Function, "post", Route = "transactions")] HttpRequest request,
        [DurableClient] DurableTaskClient client) =>
        guard.RunAsync(request, ct => api.StartAsync(request, client, ct), TransactionsApi.WaitSeconds(request));

    [Function("ListTransactions")]
    public Task<IResult> List(
        [HttpTrigger(AuthorizationLevel.Function, "get", Route = "transactions")] HttpRequest request,
        [DurableClient] DurableTaskClient client) =>
        guard.RunAsync(request, ct => listing.ListAsync(request, client, ct));

    [Function("GetTransaction")]
    public Task<IResult> Get(
        [HttpTrigger(AuthorizationLevel.Function, "get", Route = "transactions/{id}")] HttpRequest request,
        string id,
        [DurableClient] DurableTaskClient client) =>
        guard.RunAsync(request, ct => api.GetAsync(id, client, ct));

    [Function("AbortTransaction")]
    public Task<IResult> Abort(
        [HttpTrigger(AuthorizationLevel.Function, "post", Route = "transactions/{id}/abort")] HttpRequest request,
        string id,
        [DurableClient] DurableTaskClient client) =>
        guard.RunAsync(request, ct => api.AbortAsync(id, request, client, ct));
}
