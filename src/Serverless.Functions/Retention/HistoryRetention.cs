using Microsoft.DurableTask.Client;
using Microsoft.Extensions.Logging;
using Serverless.Functions.Coordination;
using Serverless.Functions.Settings;

namespace Serverless.Functions.Retention;

/// <summary>What one purge pass did.</summary>
/// <param name="Purged">Transactions purged: their orchestration instance and their decision record.</param>
/// <param name="Examined">Completed instances created before the cutoff that the pass looked at.</param>
/// <param name="Cutoff">Transactions that completed before this instant were due.</param>
/// <param name="Truncated">The pass stopped at its bound; what is left waits for the next pass.</param>
public sealed record HistoryPurgeResult(int Purged, int Examined, DateTimeOffset Cutoff, bool Truncated);

/// <summary>
/// History retention: purges from the task hub every transaction that finished longer than
/// <see cref="TransactionsSettings.HistoryRetention"/> ago (its orchestration instance, history and decision record), so
/// that the task hub's tables do not grow forever.
/// </summary>
/// <remarks>
/// <para>Only <c>Completed</c> <c>TwoPhaseCommit</c> instances are purged: the orchestration returns only once every branch
/// that may hold a reservation has acknowledged, so no participant can need its decision any more. Running, Pending and
/// Suspended instances are unfinished, and Failed or Terminated ones may have ended with a branch in doubt: they are never
/// purged, whatever their age.</para>
/// <para>The instance query filters on creation time, not on completion time (the Azure Storage backend cannot filter on
/// the latter): it asks for Completed instances created before the cutoff, which finds every instance that completed
/// before it (an instance completes after it is created), and each is then kept unless its <c>LastUpdatedAt</c> (when it
/// completed) is before the cutoff too. A transaction that took long to finish is kept for the whole retention after it
/// finished.</para>
/// <para>Per transaction the decision row is read, the claim turned into the tombstone under the ETag it was read with
/// (<see cref="TransactionClaims.TombstoneAsync"/>: from then on a start with its id is refused, I9), the decision row
/// deleted only under the ETag it was read with, and then the instance purged. A crash after the first steps leaves a
/// Completed instance with its tombstone, and perhaps without a record: harmless (all branches acknowledged), and the
/// next pass finds the instance again and finishes. Nothing writes a decision for a completed transaction meanwhile: an
/// abort request is refused once its instance completed, and in-doubt resolution answers a purged id without writing.
/// The tombstone is never deleted: participants keep their branch records for good.</para>
/// <para>Idempotent; passes in several processes at once only do some work twice.</para>
/// </remarks>
public sealed class HistoryRetention(DecisionStore decisions, TransactionClaims claims, TransactionsSettings settings, TimeProvider time, ILogger<HistoryRetention> logger)
{
    /// <summary>Most transactions one pass purges, so that a large backlog is worked off gradually.</summary>
    public const int MaxInstancesPerRun = 1000;

    private const int PageSize = 100;

    /// <summary>Purges up to <paramref name="maxInstances"/> transactions that completed longer than the retention ago.</summary>
    public async Task<HistoryPurgeResult> PurgeAsync(DurableTaskClient client, int maxInstances = MaxInstancesPerRun, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxInstances, 1);
        var cutoff = time.GetUtcNow() - settings.HistoryRetention;
        var query = new OrchestrationQuery
        {
            Statuses = [OrchestrationRuntimeStatus.Completed],
            CreatedTo = cutoff,
            PageSize = PageSize,
            FetchInputsAndOutputs = false,
        };
        var (purged, examined) = (0, 0);
        try
        {
            await foreach (var instance in client.GetAllInstancesAsync(query).WithCancellation(cancellationToken))
            {
                examined++;
                if (instance.Name != TwoPhaseCommitFunctions.OrchestratorName
                    || instance.RuntimeStatus != OrchestrationRuntimeStatus.Completed
                    || instance.LastUpdatedAt >= cutoff)
                {
                    continue;
                }

                if (purged >= maxInstances)
                {
                    logger.HistoryPurgeTruncated(purged, cutoff);
                    return Done(new HistoryPurgeResult(purged, examined, cutoff, Truncated: true));
                }

                var decision = await decisions.GetWithETagAsync(instance.InstanceId, cancellationToken);
                await claims.TombstoneAsync(instance.InstanceId, time.GetUtcNow(), cancellationToken);
                if (decision is { } read)
                {
                    await decisions.DeleteAsync(instance.InstanceId, read.ETag, cancellationToken);
                }

                var result = await client.PurgeInstanceAsync(instance.InstanceId, cancellation: cancellationToken);
                if (result.PurgedInstanceCount > 0)
                {
                    purged++;
                    logger.TransactionPurged(instance.InstanceId, instance.LastUpdatedAt);
                }
            }
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            logger.HistoryPurgeFailed(ex, purged, cutoff);
            throw;
        }

        return Done(new HistoryPurgeResult(purged, examined, cutoff, Truncated: false));
    }

    private HistoryPurgeResult Done(HistoryPurgeResult result)
    {
        logger.HistoryPurged(result.Purged, result.Cutoff, settings.HistoryRetention, result.Examined);
        return result;
    }
}

/// <summary>The log lines of history retention (event ids 1500-1549).</summary>
internal static partial class RetentionLogs
{
    [LoggerMessage(1500, LogLevel.Information, "History purge: {Purged} finished transactions purged, completed before {Cutoff:o} (retention {Retention}); {Examined} examined")]
    public static partial void HistoryPurged(this ILogger logger, int purged, DateTimeOffset cutoff, TimeSpan retention, int examined);

    [LoggerMessage(1501, LogLevel.Debug, "Transaction {TransactionId} purged: completed at {CompletedAt:o}, longer ago than the retention")]
    public static partial void TransactionPurged(this ILogger logger, string transactionId, DateTimeOffset completedAt);

    [LoggerMessage(1502, LogLevel.Information, "History purge stopped at its bound of {Purged} transactions; those left that completed before {Cutoff:o} wait for the next run")]
    public static partial void HistoryPurgeTruncated(this ILogger logger, int purged, DateTimeOffset cutoff);

    [LoggerMessage(1503, LogLevel.Error, "History purge failed after purging {Purged} transactions completed before {Cutoff:o}; the next run resumes")]
    public static partial void HistoryPurgeFailed(this ILogger logger, Exception exception, int purged, DateTimeOffset cutoff);
}
