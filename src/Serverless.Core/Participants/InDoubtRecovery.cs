using Serverless.Core.Protocol;

namespace Serverless.Core.Participants;

/// <summary>What one <see cref="InDoubtRecovery.RecoverAsync"/> pass did.</summary>
/// <param name="Committed">Branches committed.</param>
/// <param name="RolledBack">Branches rolled back.</param>
/// <param name="Undecided">Branches left prepared because their transaction is not decided yet.</param>
/// <param name="Failed">Branches the pass could not finish (their inquiry, phase-2 step or report failed, or they hold no operation); the next pass tries again.</param>
public sealed record RecoveryResult(int Committed, int RolledBack, int Undecided, int Failed);

/// <summary>
/// The one in-doubt loop of every participant: lists the branches a resource manager has held prepared since before a bound,
/// asks for each one's decision, and finishes it by that decision (I3, I4).
/// </summary>
/// <remarks>
/// <para>Does no I/O of its own: the source lists, the caller's <c>decide</c> asks, the resource manager commits or rolls back.
/// Safe to run at any time, also concurrently with the coordinator's own phase-2 commands and with other passes: commit and
/// rollback are idempotent (I5), and a branch listed but finished meanwhile is finished again harmlessly.</para>
/// <para>A branch whose inquiry, step or report fails is counted in <see cref="RecoveryResult.Failed"/>, reported, and left for the
/// next pass; the pass goes on with the next branch, so one branch that keeps failing never holds up the others. A branch whose
/// record holds no operation (<see cref="PreparedBranch.Operation"/> null) is not asked about: a resource manager that needs the
/// operation could not finish it, so it is counted failed and reported for an operator. Cancellation ends the pass by throwing.</para>
/// </remarks>
public static class InDoubtRecovery
{
    /// <summary>One pass over the branches <paramref name="source"/> lists.</summary>
    /// <param name="resourceManager">Finishes each decided branch, with the operation the source listed.</param>
    /// <param name="source">Lists the prepared branches (usually the resource manager itself).</param>
    /// <param name="preparedBefore">Leave branches prepared since this time alone: their decision is most likely on its way.</param>
    /// <param name="max">Most branches listed in one pass.</param>
    /// <param name="decide">
    /// The branch's decision, or null while its transaction may still decide (the branch then stays prepared, I3). Under presumed
    /// abort (I4) it answers <see cref="Decision.Abort"/> for a transaction the coordinator cannot decide any more.
    /// </param>
    /// <param name="finished">Told of each branch finished, after its step is durable (to acknowledge it); optional.</param>
    /// <param name="failed">
    /// Told of each branch not finished because of a failure, with the exception; for a branch that holds no operation, an
    /// <see cref="InvalidOperationException"/> the pass made without asking. Optional.
    /// </param>
    /// <param name="cancellationToken">Stops the pass.</param>
    public static async Task<RecoveryResult> RecoverAsync(
        IResourceManager resourceManager,
        IPreparedBranchSource source,
        DateTimeOffset preparedBefore,
        int max,
        Func<PreparedBranch, CancellationToken, Task<Decision?>> decide,
        Func<PreparedBranch, BranchOutcome, CancellationToken, Task>? finished = null,
        Action<PreparedBranch, Exception>? failed = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(resourceManager);
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(decide);
        int committed = 0, rolledBack = 0, undecided = 0, failures = 0;
        foreach (var prepared in await source.ListPreparedAsync(preparedBefore, max, cancellationToken))
        {
            if (prepared.Operation is not { } operation)
            {
                failures++;
                failed?.Invoke(prepared, new InvalidOperationException($"branch {prepared.Branch} is prepared but its record holds no operation to finish it with"));
                continue;
            }

            try
            {
                if (await decide(prepared, cancellationToken) is not { } decision)
                {
                    undecided++;
                    continue;
                }

                var commit = decision == Decision.Commit;
                if (commit)
                {
                    await resourceManager.CommitAsync(prepared.Branch, operation, cancellationToken);
                }
                else
                {
                    await resourceManager.RollbackAsync(prepared.Branch, operation, cancellationToken);
                }

                if (finished is not null)
                {
                    await finished(prepared, commit ? BranchOutcome.Committed : BranchOutcome.RolledBack, cancellationToken);
                }

                if (commit)
                {
                    committed++;
                }
                else
                {
                    rolledBack++;
                }
            }
            catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
            {
                failures++;
                failed?.Invoke(prepared, ex);
            }
        }

        return new RecoveryResult(committed, rolledBack, undecided, failures);
    }
}
