using Microsoft.Azure.Functions.Worker;
using Microsoft.DurableTask.Client;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Npgsql;
using OrdersDatabase = Serverless.Participants.Postgres.OrdersParticipant;
using Serverless.Core.Messaging;
using Serverless.Functions.Http;
using Serverless.Functions.Settings;
using Serverless.ParticipantKit;
using Serverless.Participants.Tables;

namespace Serverless.Functions.Participants.Orders;

/// <summary>
/// The sample <c>orders</c> participant as a module: orders in PostgreSQL (<c>ORDERS_POSTGRES_CONNECTION</c>), inserted in a
/// transaction that is <c>PREPARE TRANSACTION</c>-ed on prepare; its inbox <c>tx-participant-orders</c>; its route
/// <c>GET /api/orders/{orderId}</c>. Without a connection string the app does not run it.
/// </summary>
public sealed class OrdersParticipant(InAppInbox inbox, ApiGuard guard, OrdersDatabase? orders = null)
{
    public const string Name = "orders";

    public static IServiceCollection Register(IServiceCollection services, TransactionsSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        if (settings.OrdersConnectionString is not { } connection)
        {
            return services;
        }

        services.AddSingleton(_ => NpgsqlDataSource.Create(connection));
        services.AddSingleton(sp => new OrdersDatabase(
            sp.GetRequiredService<NpgsqlDataSource>(), Name, logger: sp.GetRequiredService<ILoggerFactory>().CreateLogger("Serverless.Orders")));
        return services.AddParticipant(Name, sp => sp.GetRequiredService<OrdersDatabase>().ResourceManager);
    }

    [Function("OrdersParticipant")]
    public Task Inbox([QueueTrigger(QueueNames.ParticipantPrefix + Name)] string message, [DurableClient] DurableTaskClient client, CancellationToken cancellationToken) =>
        inbox.ReceiveAsync(Name, message, client, cancellationToken);

    [Function("GetOrder")]
    public Task<IResult> Get([HttpTrigger(AuthorizationLevel.Function, "get", Route = "orders/{orderId}")] HttpRequest request, string orderId) =>
        guard.RunAsync(request, async ct =>
        {
            if (orders is null)
            {
                return TypedResults.Problem("the orders participant is not configured: set ORDERS_POSTGRES_CONNECTION", statusCode: StatusCodes.Status503ServiceUnavailable, title: "Service unavailable.");
            }

            return TableResourceManager<object>.IsValidKey(orderId) && await orders.GetOrderAsync(orderId, ct) is { } order
                ? TypedResults.Ok(order)
                : AmountBody.NotFound($"order '{orderId}'");
        });
}
