using Serverless.Core.Participants;
using Serverless.Core.Protocol;

namespace Serverless.Participants.MySql;

/// <summary>Phase 2: <c>XA COMMIT</c> or <c>XA ROLLBACK</c> of a prepared branch, or the record of a rollback that came before any prepare (I6).</summary>
public sealed partial class MySqlResourceManager
{
    public async Task CommitAsync(BranchKey branch, string operation, CancellationToken cancellationToken = default)
    {
        var xid = XaId.Of(Participant, branch);
        await using var connection = await OpenAsync(cancellationToken);
        for (var attempt = 1; ; attempt++)
        {
            var record = await BranchStore.ReadAsync(connection, Participant, xid, branch, cancellationToken);
            switch (ParticipantProtocol.OnCommit(record))
            {
                case BranchAction.AlreadyDone:
                    return;
                case BranchAction.Execute:
                    if (await BranchStore.TryFinishAsync(connection, xid, commit: true, cancellationToken))
                    {
                        _logger.Finished(branch.TransactionId, Participant, branch.Branch, nameof(BranchOutcome.Committed));
                        return;
                    }

                    break;
                default:
                    throw Violation("commit", branch, record);
            }

            await BackOffAsync(branch, "commit", attempt, cancellationToken);
        }
    }

    public async Task RollbackAsync(BranchKey branch, string operation, CancellationToken cancellationToken = default)
    {
        var xid = XaId.Of(Participant, branch);
        await using var connection = await OpenAsync(cancellationToken);
        for (var attempt = 1; ; attempt++)
        {
            var record = await BranchStore.ReadAsync(connection, Participant, xid, branch, cancellationToken);
            switch (ParticipantProtocol.OnRollback(record))
            {
                case BranchAction.AlreadyDone:
                    return;
                case BranchAction.RecordOnly:
                    // I6: from now on a prepare of this branch votes No. Racing a prepare, one of the two inserts wins (the
                    // prepare's row, written inside its XA transaction, holds the key until that transaction ends).
                    if (await BranchStore.TryInsertAsync(connection, Participant, branch, BranchPhase.RolledBack, null,
                            ParticipantProtocol.RolledBackBeforePrepare, cancellationToken))
                    {
                        _logger.Finished(branch.TransactionId, Participant, branch.Branch, "RolledBack before prepare");
                        return;
                    }

                    break;
                case BranchAction.Execute:
                    // The row written inside the XA transaction vanishes with it; the marker replaces it. A crash in between
                    // leaves the branch unknown, which a retried rollback (RecordOnly) settles the same way.
                    if (await BranchStore.TryFinishAsync(connection, xid, commit: false, cancellationToken)
                        && await BranchStore.TryInsertAsync(connection, Participant, branch, BranchPhase.RolledBack, Vote.Yes, null, cancellationToken))
                    {
                        _logger.Finished(branch.TransactionId, Participant, branch.Branch, nameof(BranchOutcome.RolledBack));
                        return;
                    }

                    break;
                default:
                    throw Violation("rollback", branch, record);
            }

            await BackOffAsync(branch, "rollback", attempt, cancellationToken);
        }
    }
}
