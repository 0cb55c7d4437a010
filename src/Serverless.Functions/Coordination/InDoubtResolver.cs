using System.Text.Json;
using Microsoft.DurableTask.Client;
using Microsoft.Extensions.Logging;
using Serverless.Core.Participants;
using Serverless.Core.Protocol;

namespace Serverless.Functions.Coordination;

/// <summary>
/// The one in-doubt resolver of every participant: tells a participant holding a prepared branch what became of its
/// transaction, from the durable decision record, the orchestration, or presumed abort.
/// </summary>
/// <remarks>
/// <para>A recorded decision is the answer, whatever became of the orchestration. With none recorded: a transaction whose
/// orchestration does not exist or has ended (it cannot decide any more), or whose vote deadline has passed, is presumed
/// aborted (I4) by recording Abort, first writer wins: if the orchestration records Commit first, Commit is the answer, so
/// presuming can never contradict a decision (I2); if the presumption is recorded first, the orchestration adopts it when
/// it next runs. The resolver needs the orchestration's instance row only (for its deadline), never the orchestration to
/// run: a transaction whose messages a dead process still holds is finished all the same. Otherwise the transaction is
/// still preparing before its deadline and the participant keeps waiting (I3): null.</para>
/// <para>Read-mostly and idempotent; safe to run from several processes at once.</para>
/// </remarks>
public sealed class InDoubtResolver(DecisionStore decisions, TransactionClaims claims, TimeProvider time, ILogger<InDoubtResolver> logger)
{
    /// <summary>The decision <paramref name="branch"/> must be finished by, or null while its transaction may still decide.</summary>
    public async Task<DecisionRecord?> ResolveAsync(BranchKey branch, string participant, DurableTaskClient client, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(client);
        if (await decisions.GetAsync(branch.TransactionId, cancellationToken) is { } recorded)
        {
            return recorded;
        }

        var now = time.GetUtcNow();
        var instance = await client.GetInstanceAsync(branch.TransactionId, getInputsAndOutputs: true, cancellationToken);
        var (known, deadline, purgedAt) = instance switch
        {
            null => await WithoutInstanceAsync(branch.TransactionId, now, cancellationToken),
            { IsCompleted: true } => (UndecidedTransaction.Ended, (DateTimeOffset?)null, (DateTimeOffset?)null),
            _ => (UndecidedTransaction.Running, ReadInput(instance)?.Deadline, null),
        };

        // The rule is the core's (presumed abort, I4): null while the transaction may still decide (I3).
        if (PresumedAbort.Reason(known, now, deadline, instance?.RuntimeStatus.ToString(), purgedAt) is not { } presumed)
        {
            return null;
        }

        if (!PresumedAbort.IsRecorded(known))
        {
            // It ended (every branch acknowledged) and was purged: nothing of it is prepared any more, and nothing is
            // recorded for it again.
            logger.PresumedAbort(branch.TransactionId, participant, branch.Branch, "the transaction ended and was purged; answered Abort without recording");
            return new DecisionRecord(Decision.Abort, presumed, now, []);
        }

        logger.PresumedAbort(branch.TransactionId, participant, branch.Branch, presumed);
        return await decisions.RecordAsync(branch.TransactionId, new DecisionRecord(Decision.Abort, presumed, now, []), cancellationToken);
    }

    /// <summary>
    /// What the claim of a transaction with no instance tells. An id nobody claimed is claimed here for the presumption, so
    /// that no later start can take the id and meet this answer (I9); should a start claim it first, it is that start's.
    /// </summary>
    private async Task<(UndecidedTransaction Known, DateTimeOffset? Deadline, DateTimeOffset? PurgedAt)> WithoutInstanceAsync(
        string transactionId, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var claim = await claims.GetAsync(transactionId, cancellationToken);
        if (claim is null && await claims.TryClaimForPresumedAbortAsync(transactionId, now, cancellationToken))
        {
            return (UndecidedTransaction.NeverStarted, null, null);
        }

        claim ??= await claims.GetAsync(transactionId, cancellationToken);
        return claim switch
        {
            null => (UndecidedTransaction.ClaimedByAStart, null, null),
            { IsPurged: true } => (UndecidedTransaction.Purged, null, claim.PurgedAt),
            { IsPresumedAbort: true } => (UndecidedTransaction.TakenByPresumedAbort, null, null),
            _ => (UndecidedTransaction.ClaimedByAStart, claim.Deadline, null),
        };
    }

    /// <summary>
    /// The running instance's request, or null when its input cannot be read (a poison input): then the branch waits, the
    /// orchestration fails on that input at once, and the next pass finds it ended. One unreadable input must not fail the
    /// whole pass of a participant.
    /// </summary>
    private static TransactionRequest? ReadInput(OrchestrationMetadata instance)
    {
        try
        {
            return instance.ReadInputAs<TransactionRequest>();
        }
        catch (JsonException)
        {
            return null;
        }
    }
}
