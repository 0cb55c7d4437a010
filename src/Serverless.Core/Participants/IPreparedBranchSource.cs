namespace Serverless.Core.Participants;

/// <summary>A branch a participant holds prepared: reserved, voted Yes, waiting for the decision.</summary>
/// <param name="Branch">The transaction and branch.</param>
/// <param name="Operation">The operation as the prepare received it; null when it was too large to record.</param>
/// <param name="PreparedAt">When the branch was prepared.</param>
public sealed record PreparedBranch(BranchKey Branch, string? Operation, DateTimeOffset PreparedAt);

/// <summary>
/// A resource manager that can list its prepared branches, so that one whose decision does not arrive in time can
/// be asked about (in-doubt resolution, I3/I4): the participant cannot abort by itself, but it can ask the coordinator.
/// </summary>
public interface IPreparedBranchSource
{
    /// <summary>Up to <paramref name="max"/> branches still prepared that were prepared before <paramref name="preparedBefore"/>.</summary>
    /// <remarks>A read only: a branch listed may be finished by the time the caller acts, which is harmless (I5).</remarks>
    Task<IReadOnlyList<PreparedBranch>> ListPreparedAsync(DateTimeOffset preparedBefore, int max, CancellationToken cancellationToken = default);
}
