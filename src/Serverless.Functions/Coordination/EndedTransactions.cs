using Microsoft.Azure.Functions.Worker;
using Microsoft.DurableTask;
using Microsoft.DurableTask.Client;
using Microsoft.Extensions.Logging;

namespace Serverless.Functions.Coordination;

/// <summary>
/// Nothing abandoned (I10): a transaction whose orchestration ended without carrying it to the end (it failed, or an operator
/// terminated it) is run again over the same instance, as a run that finishes what the ended one owes
/// (<see cref="TransactionRequest.Finishing"/>): the recorded decision, or presumed abort, carried out to every branch and
/// retried until each acknowledged, saga compensations included. The instance then ends Completed, Committed or Aborted, in
/// the status read and the listing alike. On <c>TRANSACTIONS_IN_DOUBT_SCHEDULE</c>, beside in-doubt resolution.
/// </summary>
/// <remarks>
/// An instance an operator purged before its transaction ended (before this pass could start it again) is "gone": a
/// transaction with a branch only the coordinator can finish (saga, HTTP) is then started again from its begin record
/// (<see cref="BeginRecords"/>) once its vote deadline passed; the begin records of transactions that ended with their
/// outcome are deleted here. A run ended this way is started again at once: with in-doubt resolution's schedule, its
/// branches are all told within the bound of I7 once their services answer. An input that no run can read (a poison input, which the ended run already
/// recorded Abort for, before sending anything) is left as it is and logged. Safe in several processes at once: starting
/// the run again is refused for an instance that is running already.
/// </remarks>
public sealed class EndedTransactions(TransactionViews views, BeginRecords begun, TransactionClaims claims, TimeProvider time, ILogger<EndedTransactions> logger)
{
    /// <summary>Most transactions one pass starts again, so that a large backlog is worked off gradually.</summary>
    public const int MaxPerPass = 200;

    /// <summary>The statuses of an instance the finishing run may replace: it ended, and not by completing.</summary>
    private static readonly IReadOnlyList<OrchestrationRuntimeStatus> Ended = TransactionViews.EndedWithoutOutcome;

    [Function("FinishEndedTransactions")]
    public Task FinishEndedTransactions([TimerTrigger("%TRANSACTIONS_IN_DOUBT_SCHEDULE%")] TimerInfo timer, [DurableClient] DurableTaskClient client, CancellationToken cancellationToken) =>
        FinishAsync(client, cancellationToken);

    /// <summary>One pass: every transaction whose orchestration ended without its outcome is started again as a finishing run; returns how many.</summary>
    public async Task<int> FinishAsync(DurableTaskClient client, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(client);
        var started = 0;
        var query = new OrchestrationQuery { Statuses = Ended, FetchInputsAndOutputs = true, PageSize = 100 };
        await foreach (var instance in client.GetAllInstancesAsync(query).WithCancellation(cancellationToken))
        {
            if (started >= MaxPerPass)
            {
                break;
            }

            if (instance.Name != TwoPhaseCommitFunctions.OrchestratorName || !Ended.Contains(instance.RuntimeStatus)
                || await views.ViewOfAsync(instance, cancellationToken) is { IsTerminal: true })
            {
                continue;
            }

            var request = TransactionViews.TryReadInput(instance);
            if (TwoPhaseCommitOrchestration.ProblemOf(request, instance.InstanceId) is { } problem)
            {
                logger.EndedRunNotFinishable(instance.InstanceId, instance.RuntimeStatus.ToString(), problem);
                continue;
            }

            var ended = instance.RuntimeStatus == OrchestrationRuntimeStatus.Failed ? "failed" : $"was {instance.RuntimeStatus.ToString().ToLowerInvariant()}";
            started += await StartFinishingRunAsync(client, request!, ended, cancellationToken) ? 1 : 0;
        }

        await foreach (var record in begun.PastDeadlineAsync(time.GetUtcNow(), cancellationToken).WithCancellation(cancellationToken))
        {
            if (started >= MaxPerPass)
            {
                break;
            }

            var instance = await client.GetInstanceAsync(record.Id, getInputsAndOutputs: false, cancellationToken);
            if (instance is null && await claims.GetAsync(record.Id, cancellationToken) is not { IsPurged: true })
            {
                // Gone: purged by an operator before its transaction ended (or never scheduled: its start stopped before).
                if (record.Request is not null)
                {
                    started += await StartFinishingRunAsync(client, record.Request, "was purged", cancellationToken) ? 1 : 0;
                    continue;
                }

                logger.BeginRecordUnreadable(record.Id, "not a compressed request of this transaction");
                await begun.DeleteAsync(record, cancellationToken);
            }
            else if (instance is null || instance.RuntimeStatus == OrchestrationRuntimeStatus.Completed)
            {
                // Ended with its outcome (and purged by retention since, its claim the tombstone).
                await begun.DeleteAsync(record, cancellationToken);
            }
        }

        return started;
    }

    /// <summary>Starts the run that finishes <paramref name="request"/>'s transaction over its instance; false when the engine refuses it (it runs).</summary>
    private async Task<bool> StartFinishingRunAsync(DurableTaskClient client, TransactionRequest request, string ended, CancellationToken cancellationToken)
    {
        try
        {
            // Refused for an instance that is not (or no longer) ended: another pass started it already, or it runs.
            await client.ScheduleNewOrchestrationInstanceAsync(
                TwoPhaseCommitFunctions.OrchestratorName,
                request with { Finishing = ended },
                new StartOrchestrationOptions(request.Id) { DedupeStatuses = NotEnded },
                cancellationToken);
            logger.EndedRunRestarted(request.Id, ended);
            return true;
        }
        catch (Exception ex) when (ex is InvalidOperationException or ArgumentException)
        {
            logger.EndedRunNotRestarted(request.Id, ex.Message);
            return false;
        }
    }

    /// <summary>Every status but the ended ones: a start over an instance in one of them is refused.</summary>
    private static readonly IReadOnlyList<string> NotEnded =
        [.. Enum.GetValues<OrchestrationRuntimeStatus>().Where(s => !Ended.Contains(s)).Select(s => s.ToString())];
}
