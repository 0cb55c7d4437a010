using Microsoft.Azure.Functions.Worker;
using Microsoft.DurableTask.Client;

namespace Serverless.Functions.Retention;

/// <summary>
/// History retention on <c>TRANSACTIONS_HISTORY_PURGE_SCHEDULE</c> (a CRON schedule, hourly by default): each run purges up
/// to <see cref="HistoryRetention.MaxInstancesPerRun"/> transactions that completed longer than
/// <c>TRANSACTIONS_HISTORY_RETENTION</c> ago (see <see cref="HistoryRetention"/>).
/// </summary>
public sealed class HistoryRetentionFunctions(HistoryRetention retention)
{
    [Function("PurgeHistory")]
    public Task PurgeHistory([TimerTrigger("%TRANSACTIONS_HISTORY_PURGE_SCHEDULE%")] TimerInfo timer, [DurableClient] DurableTaskClient client, CancellationToken cancellationToken) =>
        retention.PurgeAsync(client, cancellationToken: cancellationToken);
}
