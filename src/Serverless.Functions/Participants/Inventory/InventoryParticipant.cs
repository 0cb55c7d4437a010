using Microsoft.Azure.Functions.Worker;
using Microsoft.DurableTask.Client;
using Microsoft.Extensions.DependencyInjection;
using Serverless.Core.Messaging;
using Serverless.Core.Protocol;
using Serverless.Functions.Http;
using Serverless.Functions.Storage;
using Serverless.ParticipantKit;
using Serverless.Participants.Samples;

namespace Serverless.Functions.Participants.Inventory;

/// <summary>
/// The sample <c>inventory</c> participant as a module: stock in the Table <c>InventoryItems</c> (<see cref="InventoryResourceManager"/>),
/// its inbox <c>tx-participant-inventory</c>, and its routes <c>PUT|GET /api/inventory/items/{sku}</c> answering
/// <c>{"sku","stock","reserved"}</c>.
/// </summary>
public sealed class InventoryParticipant(InAppInbox inbox, InventoryResourceManager inventory, ApiGuard guard)
    : AmountParticipant<InventoryOperation>(inventory, guard, what: "item", key: "sku", amount: "stock", held: "reserved")
{
    public const string Name = "inventory";

    public static IServiceCollection Register(IServiceCollection services) =>
        services.AddParticipant(Name, sp => new InventoryResourceManager(sp.GetRequiredService<StorageClients>().Tables.GetTableClient("InventoryItems")), BranchKind.TwoPhase, BranchKind.Tcc);

    [Function("InventoryParticipant")]
    public Task Inbox([QueueTrigger(QueueNames.ParticipantPrefix + Name)] string message, [DurableClient] DurableTaskClient client, CancellationToken cancellationToken) =>
        inbox.ReceiveAsync(Name, message, client, cancellationToken);

    [Function("PutInventoryItem")]
    public Task<IResult> Put([HttpTrigger(AuthorizationLevel.Function, "put", Route = "inventory/items/{sku}")] HttpRequest request, string sku) =>
        PutAsync(request, sku);

    [Function("GetInventoryItem")]
    public Task<IResult> Get([HttpTrigger(AuthorizationLevel.Function, "get", Route = "inventory/items/{sku}")] HttpRequest request, string sku) =>
        GetAsync(request, sku);
}
