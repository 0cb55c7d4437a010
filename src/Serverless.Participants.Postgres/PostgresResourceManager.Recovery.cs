using Serverless.Core.Participants;

namespace Serverless.Participants.Postgres;

public sealed partial class PostgresResourceManager
{
    /// <summary>
    /// This participant's prepared transactions (in this database) that were prepared before <paramref name="preparedBefore"/>,
    /// oldest first: the branches still holding data while waiting for a decision (for <see cref="InDoubtRecovery"/>). Their
    /// operation is <c>{}</c>: commit and rollback of a prepared transaction need none.
    /// </summary>
    public async Task<IReadOnlyList<PreparedBranch>> ListPreparedAsync(DateTimeOffset preparedBefore, int max, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(max, 1);

        // The bound goes to the server as an age, so that it holds by the server's clock, which prepared the branches.
        var olderThan = DateTimeOffset.UtcNow - preparedBefore;
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken);
        var prepared = await BranchStore.ListPreparedAsync(
            connection, GlobalTransactionId.Prefix(Participant), olderThan < TimeSpan.Zero ? TimeSpan.Zero : olderThan, cancellationToken);
        var list = new List<PreparedBranch>();
        foreach (var (gid, preparedAt) in prepared)
        {
            // Skips gids that merely share the prefix but were not made by GlobalTransactionId.Format.
            if (GlobalTransactionId.TryParse(Participant, gid, out var branch))
            {
                list.Add(new PreparedBranch(branch, "{}", preparedAt));
                if (list.Count == max)
                {
                    break;
                }
            }
        }

        return list;
    }
}
