using System.Text.Json;
using Microsoft.Extensions.Logging;
using Npgsql;
using Serverless.Core.Participants;
using Serverless.Participants.Postgres;

namespace Serverless.Shipping;

/// <summary>A shipment as the API shows it.</summary>
public sealed record Shipment(string OrderId, string Address, string Status);

/// <summary>
/// The shipping database: one shipment per order, in the table <c>shipments</c>, written by the <c>shipping</c> participant's
/// prepare inside a PostgreSQL transaction that is <c>PREPARE TRANSACTION</c>-ed (<see cref="PostgresResourceManager"/>): so
/// a shipment exists, <c>scheduled</c>, exactly when its transaction commits, and none is seen while it is only prepared.
/// </summary>
/// <remarks>
/// Operation <c>{"type":"schedule","orderId":id,"address":text}</c>. Votes No for an empty address, and for an order that
/// already has a shipment: a committed one through the primary key, one still held by another prepared (undecided)
/// transaction through the lock timeout, instead of waiting for that decision.
/// </remarks>
public sealed class Shipments
{
    /// <summary>The participant's name, its inbox <c>tx-participant-shipping</c>.</summary>
    public const string Participant = "shipping";

    /// <summary>The longest address accepted.</summary>
    public const int MaxAddressLength = 500;

    private readonly NpgsqlDataSource _dataSource;

    public Shipments(NpgsqlDataSource dataSource, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(dataSource);
        _dataSource = dataSource;
        ResourceManager = new PostgresResourceManager(dataSource, Participant, ScheduleAsync, logger: logger, createSchema: CreateSchemaAsync);
    }

    /// <summary>The resource manager the participant kit hands the inbox's commands to.</summary>
    public PostgresResourceManager ResourceManager { get; }

    /// <summary>The committed shipment of <paramref name="orderId"/>; null when there is none (or it is only prepared).</summary>
    public async Task<Shipment?> GetAsync(string orderId, CancellationToken cancellationToken = default)
    {
        if (!IsValidOrderId(orderId))
        {
            return null;
        }

        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken);
        await using var command = new NpgsqlCommand("SELECT order_id, address, status FROM shipments WHERE order_id = $1", connection)
        {
            Parameters = { new() { Value = orderId } },
        };
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? new Shipment(reader.GetString(0), reader.GetString(1), reader.GetString(2)) : null;
    }

    /// <summary>True for 1-64 of letters, digits, '-', '_' and '.', as the orders participant's ids.</summary>
    public static bool IsValidOrderId(string? id) => PlaceOrder.IsValidId(id);

    private static async Task<PrepareResult> ScheduleAsync(PostgresBranchContext context, CancellationToken cancellationToken)
    {
        var operation = context.Operation;
        if (operation.ValueKind != JsonValueKind.Object || !operation.TryGetProperty("type", out var type) || type.ValueKind != JsonValueKind.String || type.GetString() != "schedule")
        {
            return PrepareResult.No("invalid operation: 'type' must be \"schedule\"");
        }

        if (!operation.TryGetProperty("orderId", out var id) || id.ValueKind != JsonValueKind.String || !IsValidOrderId(id.GetString()))
        {
            return PrepareResult.No("invalid operation: 'orderId' must be 1-64 letters, digits, '-', '_' or '.'");
        }

        var orderId = id.GetString()!;
        if (!operation.TryGetProperty("address", out var a) || a.ValueKind != JsonValueKind.String || string.IsNullOrWhiteSpace(a.GetString()))
        {
            return PrepareResult.No($"order '{orderId}' has no address to ship to");
        }

        var address = a.GetString()!.Trim();
        if (address.Length > MaxAddressLength)
        {
            return PrepareResult.No($"the address of order '{orderId}' is longer than {MaxAddressLength} characters");
        }

        await using var insert = context.CreateCommand("""
            INSERT INTO shipments (order_id, address, status, transaction_id) VALUES ($1, $2, 'scheduled', $3)
            ON CONFLICT (order_id) DO NOTHING
            """);
        insert.Parameters.Add(new() { Value = orderId });
        insert.Parameters.Add(new() { Value = address });
        insert.Parameters.Add(new() { Value = context.Branch.TransactionId });
        try
        {
            return await insert.ExecuteNonQueryAsync(cancellationToken) == 1
                ? PrepareResult.Yes
                : PrepareResult.No($"order '{orderId}' already has a shipment");
        }
        catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.LockNotAvailable)
        {
            // ON CONFLICT waits for a transaction that inserted the same order; a prepared one waits for its decision.
            return PrepareResult.No($"order '{orderId}' already has a shipment being scheduled by a transaction that is not decided yet");
        }
    }

    private static async Task CreateSchemaAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await using (var command = new NpgsqlCommand("""
            SELECT pg_advisory_xact_lock(hashtextextended('serverless.shipping.shipments', 0));
            CREATE TABLE IF NOT EXISTS shipments (
                order_id text PRIMARY KEY,
                address text NOT NULL CHECK (address <> ''),
                status text NOT NULL,
                transaction_id text NOT NULL,
                scheduled_at timestamptz NOT NULL DEFAULT now());
            """, connection, transaction))
        {
            await command.ExecuteNonQueryAsync(cancellationToken);
        }

        await transaction.CommitAsync(cancellationToken);
    }
}
