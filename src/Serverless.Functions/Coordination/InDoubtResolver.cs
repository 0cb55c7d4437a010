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

        var instance = await client.GetInstanceAsync(branch.TransactionId, getInputsAndOutputs: true, cancellationToken);
        string? presumed = null;
        if (instance is null)
        {
            switch (await claims.GetAsync(branch.TransactionId, cancellationToken))
            {
                case null:
                    // Nobody started it: its id is claimed for this presumption, so that no later start can take the id and
                    // meet this answer (I9). Should a start claim it first, it is that start's transaction: wait for it.
                    if (!await claims.TryClaimForPresumedAbortAsync(branch.TransactionId, time.GetUtcNow(), cancellationToken))
                    {
                        return null;
                    }

                    presumed = "presumed abort: the coordinator has no record of the transaction";
                    break;
                case { IsPurged: true } tombstone:
                    // It ended (every branch acknowledged) and was purged: nothing of it is prepared any more, and nothing is
                    // recorded for it again.
                    logger.PresumedAbort(branch.TransactionId, participant, branch.Branch, "the transaction ended and was purged; answered Abort without recording");
                    return new DecisionRecord(Decision.Abort, $"presumed abort: the transaction ended and was purged at {tombstone.PurgedAt:o}", time.GetUtcNow(), []);
                case { IsPresumedAbort: true }:
                    presumed = "presumed abort: the coordinator has no record of the transaction";
                    break;
                case { } claimed when time.GetUtcNow() > claimed.Deadline:
                    presumed = $"presumed abort: its start claimed it, but no orchestration runs it, and its vote deadline passed at {claimed.Deadline:o}";
                    break;
                default:
                    // Claimed by a start that has not scheduled it yet: it may still decide.
                    return null;
            }
        }
        else if (instance.IsCompleted)
        {
            presumed = $"presumed abort: the orchestration ended {instance.RuntimeStatus} without a decision";
        }
        else if (ReadInput(instance) is { } request && time.GetUtcNow() > request.Deadline)
        {
            presumed = $"presumed abort: the vote deadline passed at {request.Deadline:o} and no decision followed";
        }

        if (presumed is null)
        {
            return null;
        }

        logger.PresumedAbort(branch.TransactionId, participant, branch.Branch, presumed);
        return await decisions.RecordAsync(branch.TransactionId, new DecisionRecord(Decision.Abort, presumed, time.GetUtcNow(), []), cancellationToken);
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
