using Microsoft.Extensions.Logging;
using Npgsql;
using Serverless.Core.Participants;

namespace Serverless.Participants.Postgres;

/// <summary>
/// The sample <c>orders</c> participant: <see cref="PlaceOrder"/> inserts a row into the <c>orders</c> table inside
/// the prepared transaction, so the order exists exactly when its transaction commits.
/// </summary>
/// <remarks>
/// A duplicate order id votes No: against a committed order through the primary key, against an order still held
/// by another prepared (undecided) transaction through the lock timeout, instead of waiting for that decision.
/// </remarks>
public sealed class OrdersParticipant
{
    /// <summary>The participant's default name.</summary>
    public const string DefaultName = "orders";

    private readonly NpgsqlDataSource _dataSource;

    /// <param name="dataSource">The orders database (needs <c>max_prepared_transactions</c> &gt; 0).</param>
    /// <param name="participant">The participant's name, the prefix of its gids.</param>
    /// <param name="options">Settings of the resource manager; defaults when null.</param>
    /// <param name="logger">Where the branches' story is logged; nowhere when null.</param>
    public OrdersParticipant(
        NpgsqlDataSource dataSource,
        string participant = DefaultName,
        PostgresParticipantOptions? options = null,
        ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(dataSource);
        _dataSource = dataSource;
        ResourceManager = new PostgresResourceManager(dataSource, participant, PlaceAsync, options, logger, CreateSchemaAsync);
    }

    /// <summary>The resource manager to hand the participant's commands to; its <see cref="PostgresResourceManager.EnsureCreatedAsync"/> creates the <c>orders</c> table too.</summary>
    public PostgresResourceManager ResourceManager { get; }

    /// <summary>Creates the <c>orders</c> table when missing.</summary>
    private static async Task CreateSchemaAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await using (var command = new NpgsqlCommand("""
            SELECT pg_advisory_xact_lock(hashtextextended('serverless.participants.postgres.orders', 0));
            CREATE TABLE IF NOT EXISTS orders (
                order_id text PRIMARY KEY,
                sku text NOT NULL,
                quantity integer NOT NULL CHECK (quantity > 0),
                customer text NOT NULL,
                transaction_id text NOT NULL,
                placed_at timestamptz NOT NULL DEFAULT now());
            """, connection, transaction))
        {
            await command.ExecuteNonQueryAsync(cancellationToken);
        }

        await transaction.CommitAsync(cancellationToken);
    }

    /// <summary>The committed order <paramref name="orderId"/>; null when there is none (or it is not committed yet).</summary>
    public async Task<Order?> GetOrderAsync(string orderId, CancellationToken cancellationToken = default)
    {
        if (!PlaceOrder.IsValidId(orderId))
        {
            return null;
        }

        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken);
        await using var command = new NpgsqlCommand(
            "SELECT order_id, sku, quantity, customer, transaction_id, placed_at FROM orders WHERE order_id = $1", connection)
        {
            Parameters = { new() { Value = orderId } },
        };
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        if (!await reader.ReadAsync(cancellationToken))
        {
            return null;
        }

        return new Order(reader.GetString(0), reader.GetString(1), reader.GetInt32(2), reader.GetString(3), reader.GetString(4),
            await reader.GetFieldValueAsync<DateTimeOffset>(5, cancellationToken));
    }

    /// <summary>The prepare handler: validates the operation and inserts the order.</summary>
    public static async Task<PrepareResult> PlaceAsync(PostgresBranchContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        if (!PlaceOrder.TryParse(context.Operation, out var order, out var error))
        {
            return PrepareResult.No($"invalid operation: {error}");
        }

        await using var insert = context.CreateCommand("""
            INSERT INTO orders (order_id, sku, quantity, customer, transaction_id)
            VALUES ($1, $2, $3, $4, $5) ON CONFLICT (order_id) DO NOTHING
            """);
        insert.Parameters.Add(new() { Value = order!.OrderId });
        insert.Parameters.Add(new() { Value = order.Sku });
        insert.Parameters.Add(new() { Value = order.Quantity });
        insert.Parameters.Add(new() { Value = order.Customer });
        insert.Parameters.Add(new() { Value = context.Branch.TransactionId });
        try
        {
            return await insert.ExecuteNonQueryAsync(cancellationToken) == 1
                ? PrepareResult.Yes
                : PrepareResult.No($"order '{order.OrderId}' already exists");
        }
        catch (PostgresException ex) when (BranchStore.IsLockTimeout(ex))
        {
            // ON CONFLICT waits for a transaction that inserted the same id; a prepared one waits for its decision.
            return PrepareResult.No($"order '{order.OrderId}' is being placed by another transaction that is not decided yet");
        }
    }
}
