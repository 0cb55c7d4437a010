using Microsoft.Azure.Functions.Worker;
using Microsoft.DurableTask.Client;
using Microsoft.Extensions.DependencyInjection;
using Serverless.Functions.Api;
using Serverless.Functions.Storage;
using Serverless.Participants.Samples;
using Serverless.Participants.Tables;

namespace Serverless.Functions.Participants.Inventory;

/// <summary>
/// The sample <c>inventory</c> participant as a module: stock in the Table <c>InventoryItems</c> (<see cref="InventoryResourceManager"/>),
/// its inbox <c>tx-participant-inventory</c>, and its routes <c>PUT|GET /api/inventory/items/{sku}</c>.
/// </summary>
public sealed class InventoryParticipant(ParticipantInbox inbox, InventoryResourceManager inventory, ApiGuard guard)
{
    public const string Name = "inventory";

    public sealed record ItemDocument(string Sku, long Stock, long Reserved);

    public static IServiceCollection Register(IServiceCollection services) =>
        services.AddParticipant(Name, sp => new InventoryResourceManager(sp.GetRequiredService<StorageClients>().Tables.GetTableClient("InventoryItems")));

    [Function("InventoryParticipant")]
    public Task Inbox([QueueTrigger(StorageNames.ParticipantQueuePrefix + Name)] string message, [DurableClient] DurableTaskClient client, CancellationToken cancellationToken) =>
        inbox.ReceiveAsync(Name, message, client, cancellationToken);

    [Function("PutInventoryItem")]
    public Task<IResult> Put([HttpTrigger(AuthorizationLevel.Function, "put", Route = "inventory/items/{sku}")] HttpRequest request, string sku) =>
        guard.RunAsync(request, async ct =>
        {
            var (value, problem) = await AmountBody.ReadAsync(request, sku, "stock", ct);
            if (problem is not null)
            {
                return problem;
            }

            await inventory.SetStockAsync(sku, value, ct);
            var (stock, reserved) = (await inventory.GetItemAsync(sku, ct))!.Value;
            return TypedResults.Ok(new ItemDocument(sku, stock, reserved));
        });

    [Function("GetInventoryItem")]
    public Task<IResult> Get([HttpTrigger(AuthorizationLevel.Function, "get", Route = "inventory/items/{sku}")] HttpRequest request, string sku) =>
        guard.RunAsync(request, async ct =>
            TableResourceManager<InventoryOperation>.IsValidKey(sku) && await inventory.GetItemAsync(sku, ct) is { } i
                ? TypedResults.Ok(new ItemDocument(sku, i.Stock, i.Reserved))
                : AmountBody.NotFound($"item '{sku}'"));
}
