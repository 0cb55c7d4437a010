using System.Text.Json.Nodes;
using Microsoft.Azure.Functions.Worker;
using Serverless.ParticipantKit;

namespace Serverless.Shipping;

/// <summary>
/// The shipping app's functions: the <c>shipping</c> participant's inbox and its in-doubt inquiries, both thin adapters over
/// the participant kit, and the route that shows a shipment.
/// </summary>
public sealed class ShippingFunctions(ParticipantInbox inbox, InDoubtInquiries inquiries, Shipments shipments)
{
    [Function("ShippingParticipant")]
    public Task Inbox(
        [QueueTrigger("tx-participant-" + Shipments.Participant, Connection = ParticipantSettings.CoordinatorStorage)] string message, CancellationToken cancellationToken) =>
        inbox.ReceiveAsync(Shipments.Participant, message, cancellationToken);

    [Function("AskInDoubt")]
    public Task AskInDoubt([TimerTrigger("%TRANSACTIONS_IN_DOUBT_SCHEDULE%")] TimerInfo timer, CancellationToken cancellationToken) =>
        inquiries.AskAsync(cancellationToken);

    /// <summary><c>GET /api/shipments/{orderId}</c>: <c>{"orderId","address","status"}</c>, or 404 while there is none (also while only prepared).</summary>
    [Function("GetShipment")]
    public async Task<IResult> Get([HttpTrigger(AuthorizationLevel.Function, "get", Route = "shipments/{orderId}")] HttpRequest request, string orderId)
    {
        ArgumentNullException.ThrowIfNull(request);
        return await shipments.GetAsync(orderId, request.HttpContext.RequestAborted) is { } shipment
            ? TypedResults.Ok(new JsonObject { ["orderId"] = shipment.OrderId, ["address"] = shipment.Address, ["status"] = shipment.Status })
            : TypedResults.Problem($"order '{orderId}' has no shipment", statusCode: StatusCodes.Status404NotFound, title: "Not found.");
    }
}
