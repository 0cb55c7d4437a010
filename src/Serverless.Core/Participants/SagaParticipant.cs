namespace Serverless.Core.Participants;

/// <summary>What a saga action did: applied, or not applied for a stated reason (a definite answer, such as a decline).</summary>
public sealed record SagaActionResult(bool Applied, string? Reason = null)
{
    public static SagaActionResult Done { get; } = new(true);

    public static SagaActionResult NotApplied(string reason) => new(false, reason);
}

/// <summary>
/// A participant that cannot prepare (an external service's API): a saga branch's action takes effect at once, and its
/// compensation undoes it. Both are keyed by the branch's idempotency key (<see cref="SagaKeys.Of"/>), so the coordinator
/// may call either any number of times.
/// </summary>
/// <remarks>
/// <para><see cref="ApplyAsync"/> applies the action once per key; a repeat is answered as the first time. It throws when
/// the outcome is unknown (the service unreachable, timed out, answering 5xx): a retry with the same key is safe.</para>
/// <para><see cref="CompensateAsync"/> undoes the action of the key once. For a key whose action has not arrived it
/// records a cancellation, and a later action with that key is refused and takes nothing: the saga's rule against
/// hanging, as I6 is 2PC's. It throws when it could not be done; the coordinator retries it until it succeeds.</para>
/// </remarks>
public interface ISagaParticipant
{
    Task<SagaActionResult> ApplyAsync(string key, string operation, CancellationToken cancellationToken);

    Task CompensateAsync(string key, CancellationToken cancellationToken);
}

/// <summary>The idempotency keys of saga branches.</summary>
public static class SagaKeys
{
    /// <summary>
    /// The key of branch <paramref name="branch"/> of transaction <paramref name="transactionId"/>: <c>order-1001.2.9f3c0a1b2c3d4e5f</c>,
    /// with the transaction's random <paramref name="nonce"/>, so that keys can be neither guessed nor met again at the outside
    /// service (another deployment's transaction of the same id, or one before a purge). Fixed when the transaction starts, so
    /// every retry and replay uses the same key. Without a nonce (a transaction started before nonces): <c>order-1001.2</c>.
    /// </summary>
    public static string Of(string transactionId, int branch, string? nonce = null) =>
        nonce is null ? $"{transactionId}.{branch}" : $"{transactionId}.{branch}.{nonce}";

    /// <summary>A new random nonce for <see cref="Of"/>: 16 lower-case hex digits (64 random bits).</summary>
    public static string NewNonce() => System.Security.Cryptography.RandomNumberGenerator.GetHexString(16, lowercase: true);
}
