using Serverless.Core.Protocol;

namespace Serverless.Core.Participants;

/// <summary>Identifies one branch of one transaction at a participant.</summary>
public readonly record struct BranchKey(string TransactionId, int Branch)
{
    public override string ToString() => $"{TransactionId}/{Branch}";
}

/// <summary>A participant's vote with its reason.</summary>
public sealed record PrepareResult(Vote Vote, string? Reason = null)
{
    public static PrepareResult Yes { get; } = new(Vote.Yes);

    public static PrepareResult No(string reason) => new(Vote.No, reason);
}

/// <summary>
/// A resource manager: the part of a participant that owns data and executes a branch's prepare, commit
/// and rollback, each atomically together with the durable record of the branch.
/// </summary>
/// <remarks>
/// <para>Every method is idempotent (I5): repeating a command after it succeeded, or after a failure at any
/// point, has the effect of doing it once. <see cref="PrepareAsync"/> returns the same vote every time.</para>
/// <para>A Yes vote means the reservation is durable (I3). A rollback for a branch that was never prepared
/// leaves a record so that a later prepare votes No and reserves nothing (I6).</para>
/// <para>A command that contradicts the branch's record (a commit for a branch that voted No or was rolled
/// back, a rollback after commit) throws <see cref="ProtocolViolationException"/> and changes nothing.</para>
/// <para>After a failure (an exception other than a violation) zero or all of the step's changes are
/// durable; the caller retries the same command.</para>
/// </remarks>
public interface IResourceManager
{
    Task<PrepareResult> PrepareAsync(BranchKey branch, string operation, CancellationToken cancellationToken = default);

    Task CommitAsync(BranchKey branch, string operation, CancellationToken cancellationToken = default);

    Task RollbackAsync(BranchKey branch, string operation, CancellationToken cancellationToken = default);
}

/// <summary>A command contradicts what a participant durably recorded about its branch; it must not be acted on.</summary>
public sealed class ProtocolViolationException(string message) : Exception(message);
