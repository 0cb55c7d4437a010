using System.Text.Json.Nodes;
using Serverless.Runtime.Storage;

namespace Serverless.Functions.CustomHandler;

/// <summary>One function of the app as the Azure Functions host sees it.</summary>
/// <param name="Name">The function's name: its folder in the deployed app and, for queue triggers, the path the host POSTs to.</param>
/// <param name="Route">The HTTP route below <c>/api</c>, for HTTP functions.</param>
/// <param name="Methods">The HTTP methods, for HTTP functions.</param>
/// <param name="Queue">The queue name, for queue-triggered functions.</param>
/// <param name="Participant">For a participant inbox, the participant's name.</param>
public sealed record FunctionDefinition(string Name, string? Route = null, IReadOnlyList<string>? Methods = null, string? Queue = null, string? Participant = null)
{
    public bool IsQueueTriggered => Queue is not null;

    /// <summary>The function.json the Functions host reads.</summary>
    public JsonObject ToFunctionJson()
    {
        var bindings = new JsonArray();
        if (Queue is not null)
        {
            bindings.Add(new JsonObject
            {
                ["type"] = "queueTrigger",
                ["direction"] = "in",
                ["name"] = "message",
                ["queueName"] = Queue,
                ["connection"] = "AzureWebJobsStorage",
            });
        }
        else
        {
            bindings.Add(new JsonObject
            {
                ["type"] = "httpTrigger",
                ["direction"] = "in",
                ["name"] = "req",
                ["authLevel"] = "anonymous",
                ["methods"] = new JsonArray([.. Methods!.Select(m => (JsonNode)m.ToLowerInvariant())]),
                ["route"] = Route,
            });
            bindings.Add(new JsonObject { ["type"] = "http", ["direction"] = "out", ["name"] = "res" });
        }

        return new JsonObject { ["bindings"] = bindings };
    }
}

/// <summary>
/// The app's functions, in one list: the local host maps the same routes and queues, and the published
/// app's function.json files are generated from it, so the two cannot drift.
/// </summary>
public static class FunctionCatalog
{
    /// <summary>The name of the coordinator's queue-triggered function.</summary>
    public const string CoordinatorFunction = "Coordinator";

    public static string ParticipantFunction(string participant) => $"Participant-{participant}";

    /// <summary>Every function for the given participants (their inboxes and sample routes).</summary>
    public static IReadOnlyList<FunctionDefinition> For(IReadOnlyCollection<string> hostedParticipants, StorageNames names)
    {
        ArgumentNullException.ThrowIfNull(hostedParticipants);
        ArgumentNullException.ThrowIfNull(names);
        var list = new List<FunctionDefinition>
        {
            new("StartTransaction", "transactions", ["POST"]),
            new("ListTransactions", "transactions", ["GET"]),
            new("GetTransaction", "transactions/{id}", ["GET"]),
            new("AbortTransaction", "transactions/{id}/abort", ["POST"]),
            new("Health", "health", ["GET"]),
            new("StorageMetrics", "metrics/storage", ["GET"]),
            new(CoordinatorFunction, Queue: names.CoordinatorQueue),
        };
        foreach (var participant in hostedParticipants)
        {
            list.Add(new(ParticipantFunction(participant), Queue: names.ParticipantQueue(participant), Participant: participant));
        }

        if (hostedParticipants.Contains("bank"))
        {
            list.Add(new("BankAccount", "bank/accounts/{account}", ["GET", "PUT"]));
        }

        if (hostedParticipants.Contains("inventory"))
        {
            list.Add(new("InventoryItem", "inventory/items/{sku}", ["GET", "PUT"]));
        }

        if (hostedParticipants.Contains("orders"))
        {
            list.Add(new("Order", "orders/{orderId}", ["GET"]));
        }

        return list;
    }
}
