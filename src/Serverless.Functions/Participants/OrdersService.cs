using Serverless.Core.Participants;
using Serverless.Core.Protocol;
using Serverless.Participants.Postgres;
using Serverless.Runtime.Coordination;
using Serverless.Runtime.Participants;

namespace Serverless.Functions.Participants;

/// <summary>The sample <c>orders</c> participant on PostgreSQL, as a resource manager whose schema is created at start.</summary>
public sealed class OrdersResourceManager(OrdersParticipant orders) : IResourceManager, IRequiresInitialization
{
    public OrdersParticipant Orders => orders;

    public Task EnsureCreatedAsync(CancellationToken cancellationToken = default) => orders.EnsureSchemaAsync(cancellationToken);

    public Task<PrepareResult> PrepareAsync(BranchKey branch, string operation, CancellationToken cancellationToken = default) =>
        orders.ResourceManager.PrepareAsync(branch, operation, cancellationToken);

    public Task CommitAsync(BranchKey branch, string operation, CancellationToken cancellationToken = default) =>
        orders.ResourceManager.CommitAsync(branch, operation, cancellationToken);

    public Task RollbackAsync(BranchKey branch, string operation, CancellationToken cancellationToken = default) =>
        orders.ResourceManager.RollbackAsync(branch, operation, cancellationToken);
}

/// <summary>
/// In-doubt resolution for the orders database: at start and then periodically, every prepared transaction of
/// this participant older than a bound is finished by asking the coordinator's checkpoint (presumed abort for
/// an unknown transaction), so that no prepared transaction outlives its decision or holds locks forever.
/// </summary>
public sealed class OrdersRecoveryService(
    OrdersResourceManager orders,
    TransactionCoordinator coordinator,
    ILogger<OrdersRecoveryService> logger) : BackgroundService
{
    /// <summary>How long a branch may stay prepared before it is treated as in doubt. Also the scan period.</summary>
    public static TimeSpan InDoubtAfter { get; set; } = TimeSpan.FromSeconds(30);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await orders.EnsureCreatedAsync(stoppingToken);
                await orders.Orders.ResourceManager.RecoverAsync(AskAsync, InDoubtAfter, stoppingToken);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                OrdersLogs.RecoveryFailed(logger, ex);
            }

            await Task.Delay(InDoubtAfter, stoppingToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
    }

    private async Task<Decision?> AskAsync(BranchKey branch, CancellationToken cancellationToken)
    {
        var state = await coordinator.GetAsync(branch.TransactionId, cancellationToken);

        // Presumed abort: no record means no Commit can ever be decided for it.
        return state is null ? Decision.Abort : state.Decision;
    }
}

internal static partial class OrdersLogs
{
    [LoggerMessage(4100, LogLevel.Warning, "Orders in-doubt recovery failed; retrying later")]
    public static partial void RecoveryFailed(ILogger logger, Exception exception);
}
