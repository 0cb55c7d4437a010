using Microsoft.Azure.Functions.Worker;
using Microsoft.DurableTask;
using Microsoft.DurableTask.Client;
using Microsoft.Extensions.Logging;
using Serverless.Functions.Api;

namespace Serverless.Functions.Coordination;

/// <summary>
/// Nothing abandoned (I10): a transaction whose orchestration ended without carrying it to the end (it failed, or an operator
/// terminated it) is run again over the same instance, as a run that finishes what the ended one owes
/// (<see cref="TransactionRequest.Finishing"/>): the recorded decision, or presumed abort, carried out to every branch and
/// retried until each acknowledged, saga compensations included. The instance then ends Completed, Committed or Aborted, in
/// the status read and the listing alike. On <c>TRANSACTIONS_IN_DOUBT_SCHEDULE</c>, beside in-doubt resolution.
/// </summary>
/// <remarks>
/// A run ended this way is started again at once: with in-doubt resolution's schedule, its branches are all told within the
/// bound of I7 once their services answer. An input that no run can read (a poison input, which the ended run already
/// recorded Abort for, before sending anything) is left as it is and logged. Safe in several processes at once: starting
/// the run again is refused for an instance that is running already.
/// </remarks>
public sealed class EndedTransactions(TransactionViews views, ILogger<EndedTransactions> logger)
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
            try
            {
                // Refused for an instance that is not (or no longer) ended: another pass started it already, or it runs.
                await client.ScheduleNewOrchestrationInstanceAsync(
                    TwoPhaseCommitFunctions.OrchestratorName,
                    request! with { Finishing = ended },
                    new StartOrchestrationOptions(instance.InstanceId) { DedupeStatuses = NotEnded },
                    cancellationToken);
                started++;
                logger.EndedRunRestarted(instance.InstanceId, ended);
            }
            catch (Exception ex) when (ex is InvalidOperationException or ArgumentException)
            {
                logger.EndedRunNotRestarted(instance.InstanceId, ex.Message);
            }
        }

        return started;
    }

    /// <summary>Every status but the ended ones: a start over an instance in one of them is refused.</summary>
    private static readonly IReadOnlyList<string> NotEnded =
        [.. Enum.GetValues<OrchestrationRuntimeStatus>().Where(s => !Ended.Contains(s)).Select(s => s.ToString())];
}
