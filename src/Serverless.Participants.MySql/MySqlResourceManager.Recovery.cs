using Serverless.Core.Participants;

namespace Serverless.Participants.MySql;

public sealed partial class MySqlResourceManager
{
    /// <summary>
    /// This participant's prepared XA branches (<c>XA RECOVER</c>, this library's formatID and this participant's bqual) whose
    /// prepare began before <paramref name="preparedBefore"/>, oldest first: the branches still holding rows while waiting for a
    /// decision (for <see cref="InDoubtRecovery"/>). Other xids on the server are never listed. Their operation is <c>{}</c>:
    /// commit and rollback of a prepared branch need none.
    /// </summary>
    public async Task<IReadOnlyList<PreparedBranch>> ListPreparedAsync(DateTimeOffset preparedBefore, int max, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(max, 1);
        await using var connection = await OpenAsync(cancellationToken);
        var now = DateTimeOffset.UtcNow;
        var list = new List<PreparedBranch>();
        foreach (var branch in await BranchStore.RecoverAsync(connection, Participant, cancellationToken))
        {
            // XA RECOVER tells no time: the age comes from the start note, by the server's clock; a branch prepared without
            // one (by another version) counts as old.
            var preparedAt = await BranchStore.AgeAsync(connection, Participant, branch, cancellationToken) is { } age ? now - age : DateTimeOffset.MinValue;
            if (preparedAt <= preparedBefore)
            {
                list.Add(new PreparedBranch(branch, "{}", preparedAt));
            }
        }

        return [.. list.OrderBy(b => b.PreparedAt).Take(max)];
    }
}
