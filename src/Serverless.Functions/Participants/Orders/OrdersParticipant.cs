using Microsoft.Azure.Functions.Worker;
using Microsoft.DurableTask.Client;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Npgsql;
using Serverless.Core.Participants;
using Serverless.Functions.Api;
using Serverless.Functions.Hosting;
using Serverless.Functions.Storage;
using Serverless.Participants.Postgres;
using Serverless.Participants.Tables;

namespace Serverless.Functions.Participants.Orders;

/// <summary>
/// The sample <c>orders</c> participant as a module: orders in PostgreSQL (<c>ORDERS_POSTGRES_CONNECTION</c>), inserted in a
/// transaction that is <c>PREPARE TRANSACTION</c>-ed on prepare; its inbox <c>tx-participant-orders</c>; its route
/// <c>GET /api/orders/{orderId}</c>. Without a connection string the app does not run it.
/// </summary>
public sealed class OrdersParticipant(ParticipantInbox inbox, ParticipantRegistry participants, ApiGuard guard)
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
        return services.AddParticipant(Name, sp => new OrdersResourceManager(new Serverless.Participants.Postgres.OrdersParticipant(
            sp.GetRequiredService<NpgsqlDataSource>(), Name, logger: sp.GetRequiredService<ILoggerFactory>().CreateLogger("Serverless.Orders"))));
    }

    [Function("OrdersParticipant")]
    public Task Inbox([QueueTrigger(StorageNames.ParticipantQueuePrefix + Name)] string message, [DurableClient] DurableTaskClient client, CancellationToken cancellationToken) =>
        inbox.ReceiveAsync(Name, message, client, cancellationToken);

    [Function("GetOrder")]
    public Task<IResult> Get([HttpTrigger(AuthorizationLevel.Function, "get", Route = "orders/{orderId}")] HttpRequest request, string orderId) =>
        guard.RunAsync(request, async ct =>
        {
            if (participants.Find(Name) is not OrdersResourceManager orders)
            {
                return TypedResults.Problem("the orders participant is not configured: set ORDERS_POSTGRES_CONNECTION", statusCode: StatusCodes.Status503ServiceUnavailable, title: "Service unavailable.");
            }

            return TableResourceManager<object>.IsValidKey(orderId) && await orders.Orders.GetOrderAsync(orderId, ct) is { } order
                ? TypedResults.Ok(order)
                : AmountBody.NotFound($"order '{orderId}'");
        });
}

/// <summary>The orders database as a resource manager whose schema is created at start and whose prepared branches in-doubt resolution can list.</summary>
public sealed class OrdersResourceManager(Serverless.Participants.Postgres.OrdersParticipant orders) : IResourceManager, IRequiresInitialization, IPreparedBranchSource
{
    public Serverless.Participants.Postgres.OrdersParticipant Orders => orders;

    public Task EnsureCreatedAsync(CancellationToken cancellationToken = default) => orders.EnsureSchemaAsync(cancellationToken);

    public Task<PrepareResult> PrepareAsync(BranchKey branch, string operation, CancellationToken cancellationToken = default) =>
        orders.ResourceManager.PrepareAsync(branch, operation, cancellationToken);

    public Task CommitAsync(BranchKey branch, string operation, CancellationToken cancellationToken = default) =>
        orders.ResourceManager.CommitAsync(branch, operation, cancellationToken);

    public Task RollbackAsync(BranchKey branch, string operation, CancellationToken cancellationToken = default) =>
        orders.ResourceManager.RollbackAsync(branch, operation, cancellationToken);

    /// <summary>The branches PostgreSQL holds prepared (<c>pg_prepared_xacts</c>); commit and rollback of a prepared branch need no operation.</summary>
    public async Task<IReadOnlyList<PreparedBranch>> ListPreparedAsync(DateTimeOffset preparedBefore, int max, CancellationToken cancellationToken = default)
    {
        var olderThan = DateTimeOffset.UtcNow - preparedBefore;
        var inDoubt = await orders.ResourceManager.ListInDoubtAsync(olderThan < TimeSpan.Zero ? TimeSpan.Zero : olderThan, cancellationToken);
        return [.. inDoubt.Take(max).Select(b => new PreparedBranch(b.Branch, "{}", b.PreparedAt))];
    }
}
