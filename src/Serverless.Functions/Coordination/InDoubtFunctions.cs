using Microsoft.Azure.Functions.Worker;
using Microsoft.DurableTask.Client;
using Microsoft.Extensions.Logging;
using Serverless.Core.Messaging;
using Serverless.Core.Participants;
using Serverless.Functions.Messaging;
using Serverless.Functions.Settings;
using Serverless.Functions.Storage;
using Serverless.Functions.Telemetry;
using Serverless.ParticipantKit;

namespace Serverless.Functions.Coordination;

/// <summary>
/// In-doubt resolution for the participants this app runs, on <c>TRANSACTIONS_IN_DOUBT_SCHEDULE</c> (a CRON schedule):
/// every branch prepared longer ago than <c>TRANSACTIONS_IN_DOUBT_SECONDS</c> is resolved by <see cref="InDoubtResolver"/>
/// and finished by the decision, and its acknowledgement raised on the orchestration. This is what finishes a branch whose
/// phase-2 command was lost (poisoned) or whose orchestration can no longer decide.
/// </summary>
public sealed class InDoubtFunctions(
    ParticipantResourceManagers participants,
    InDoubtResolver resolver,
    ReplyEvents events,
    TransactionsSettings settings,
    TimeProvider time,
    ILogger<InDoubtFunctions> logger)
{
    /// <summary>Most branches resolved per participant per run, so that a large backlog is worked off gradually.</summary>
    public const int MaxBranchesPerRun = 500;

    [Function("ResolveInDoubt")]
    public async Task ResolveInDoubt([TimerTrigger("%TRANSACTIONS_IN_DOUBT_SCHEDULE%")] TimerInfo timer, [DurableClient] DurableTaskClient client, CancellationToken cancellationToken)
    {
        foreach (var (name, resourceManager) in participants.All())
        {
            if (resourceManager is not IPreparedBranchSource source)
            {
                continue;
            }

            try
            {
                await ResolveAsync(name, resourceManager, source, client, cancellationToken);
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                logger.InDoubtPassFailed(ex, name);
            }
        }
    }

    /// <summary>
    /// One participant's pass (<see cref="InDoubtRecovery"/>): each of its branches prepared too long ago is resolved, finished by
    /// the decision, and its acknowledgement raised on the orchestration. A branch that fails is logged and left for the next run.
    /// </summary>
    public Task<RecoveryResult> ResolveAsync(string participant, IResourceManager resourceManager, IPreparedBranchSource source, DurableTaskClient client, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(client);
        return InDoubtRecovery.RecoverAsync(
            resourceManager,
            source,
            time.GetUtcNow().AddSeconds(-settings.InDoubtSeconds),
            MaxBranchesPerRun,
            decide: async (prepared, ct) =>
            {
                Listed(participant, prepared);
                return (await resolver.ResolveAsync(prepared.Branch, participant, client, ct))?.Decision;
            },
            finished: (prepared, outcome, ct) => events.RaiseAsync(
                new ProtocolMessage(MessageKind.Ack, prepared.Branch.TransactionId) { Branch = prepared.Branch.Branch, Participant = participant, Outcome = outcome }, client, ct),
            failed: (prepared, exception) =>
            {
                if (prepared.Operation is null)
                {
                    Listed(participant, prepared);
                    logger.InDoubtWithoutOperation(prepared.Branch.TransactionId, participant, prepared.Branch.Branch);
                }
                else
                {
                    logger.InDoubtBranchFailed(exception, prepared.Branch.TransactionId, participant, prepared.Branch.Branch, StorageErrors.Describe(exception));
                }
            },
            cancellationToken);
    }

    private void Listed(string participant, PreparedBranch prepared)
    {
        logger.InDoubt(prepared.Branch.TransactionId, participant, prepared.Branch.Branch, prepared.PreparedAt);
        TransactionTelemetry.BranchInDoubt(participant);
    }
}
