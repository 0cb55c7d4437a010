using Serverless.Core.Participants;
using Serverless.Core.Protocol;

namespace Serverless.Participants.MySql;

/// <summary>A branch this participant prepared and that still waits for its decision.</summary>
/// <param name="Branch">The branch.</param>
/// <param name="PreparedAt">When its first prepare began (by the server's clock, converted to this one).</param>
public sealed record InDoubtBranch(BranchKey Branch, DateTimeOffset PreparedAt);

/// <summary>What one <see cref="MySqlResourceManager.RecoverAsync"/> pass did.</summary>
/// <param name="Committed">Branches committed.</param>
/// <param name="RolledBack">Branches rolled back.</param>
/// <param name="Undecided">Branches left prepared because their transaction is not decided yet.</param>
/// <param name="Failed">Branches whose inquiry or phase-2 step failed; the next pass tries again.</param>
public sealed record RecoveryResult(int Committed, int RolledBack, int Undecided, int Failed);

public sealed partial class MySqlResourceManager
{
    /// <summary>
    /// This participant's prepared XA branches (<c>XA RECOVER</c>, this library's formatID and this participant's
    /// bqual) whose prepare began at least <paramref name="olderThan"/> ago: the branches still holding rows while
    /// waiting for a decision. Other xids on the server are never listed.
    /// </summary>
    public async Task<IReadOnlyList<InDoubtBranch>> ListInDoubtAsync(TimeSpan olderThan, CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenAsync(cancellationToken);
        var now = DateTimeOffset.UtcNow;
        var list = new List<InDoubtBranch>();
        foreach (var branch in await BranchStore.RecoverAsync(connection, Participant, cancellationToken))
        {
            // XA RECOVER tells no time; a branch prepared without a start note (by another version) counts as old.
            var age = await BranchStore.AgeAsync(connection, Participant, branch, cancellationToken) ?? TimeSpan.MaxValue;
            if (age >= olderThan)
            {
                list.Add(new InDoubtBranch(branch, age == TimeSpan.MaxValue ? DateTimeOffset.MinValue : now - age));
            }
        }

        list.Sort((a, b) => a.PreparedAt.CompareTo(b.PreparedAt));
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
    /// <see cref="RecoveryResult.Failed"/> and left for the next pass. Run it at start and periodically; in the
    /// Functions app the <c>ResolveInDoubt</c> timer does, through the one in-doubt resolver.
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
