using Microsoft.Extensions.Logging;
using Serverless.Core.Participants;
using Serverless.Core.Protocol;

namespace Serverless.Participants.Postgres;

/// <summary>A branch this participant prepared and that still waits for its decision.</summary>
/// <param name="Branch">The branch.</param>
/// <param name="PreparedAt">When PostgreSQL prepared it.</param>
public sealed record InDoubtBranch(BranchKey Branch, DateTimeOffset PreparedAt);

/// <summary>What one <see cref="PostgresResourceManager.RecoverAsync"/> pass did.</summary>
/// <param name="Committed">Branches committed.</param>
/// <param name="RolledBack">Branches rolled back.</param>
/// <param name="Undecided">Branches left prepared because their transaction is not decided yet.</param>
/// <param name="Failed">Branches whose inquiry or phase-2 step failed; the next pass tries again.</param>
public sealed record RecoveryResult(int Committed, int RolledBack, int Undecided, int Failed);

public sealed partial class PostgresResourceManager
{
    /// <summary>
    /// This participant's prepared transactions (in this database) that were prepared at least
    /// <paramref name="olderThan"/> ago: the branches still holding data while waiting for a decision.
    /// </summary>
    public async Task<IReadOnlyList<InDoubtBranch>> ListInDoubtAsync(TimeSpan olderThan, CancellationToken cancellationToken = default)
    {
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken);
        var prepared = await BranchStore.ListPreparedAsync(connection, GlobalTransactionId.Prefix(Participant), olderThan, cancellationToken);
        var list = new List<InDoubtBranch>(prepared.Count);
        foreach (var (gid, preparedAt) in prepared)
        {
            // Skips gids that merely share the prefix but were not made by GlobalTransactionId.Format.
            if (GlobalTransactionId.TryParse(Participant, gid, out var branch))
            {
                list.Add(new InDoubtBranch(branch, preparedAt));
            }
        }

        return list;
    }

    /// <summary>
    /// Finishes in-doubt branches: for each branch prepared at least <paramref name="olderThan"/> ago, asks the
    /// coordinator for the decision and commits or rolls back accordingly.
    /// </summary>
    /// <param name="askCoordinator">
    /// Returns the transaction's decision, or null while it is still undecided (the branch then stays prepared, I3).
    /// Under presumed abort (I4) it answers <see cref="Decision.Abort"/> for a transaction the coordinator does not know.
    /// </param>
    /// <param name="olderThan">Leave younger branches alone: their decision is most likely on its way.</param>
    /// <param name="cancellationToken">Stops the pass.</param>
    /// <remarks>
    /// Safe to run at any time, also concurrently with the coordinator's own phase-2 commands and with other passes:
    /// commit and rollback are idempotent. A branch whose inquiry or step fails is logged, counted in
    /// <see cref="RecoveryResult.Failed"/> and left for the next pass.
    /// </remarks>
    public async Task<RecoveryResult> RecoverAsync(
        Func<BranchKey, CancellationToken, Task<Decision?>> askCoordinator,
        TimeSpan olderThan,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(askCoordinator);
        int committed = 0, rolledBack = 0, undecided = 0, failed = 0;
        foreach (var (branch, preparedAt) in await ListInDoubtAsync(olderThan, cancellationToken))
        {
            _logger.InDoubt(branch.TransactionId, Participant, branch.Branch, preparedAt);
            try
            {
                switch (await askCoordinator(branch, cancellationToken))
                {
                    case Decision.Commit:
                        await CommitAsync(branch, "{}", cancellationToken);
                        committed++;
                        break;
                    case Decision.Abort:
                        await RollbackAsync(branch, "{}", cancellationToken);
                        rolledBack++;
                        break;
                    default:
                        _logger.StillUndecided(branch.TransactionId, Participant, branch.Branch);
                        undecided++;
                        break;
                }
            }
            catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
            {
                _logger.RecoveryFailed(ex, branch.TransactionId, Participant, branch.Branch);
                failed++;
            }
        }

        return new RecoveryResult(committed, rolledBack, undecided, failed);
    }
}
