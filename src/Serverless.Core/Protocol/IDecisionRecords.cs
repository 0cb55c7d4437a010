namespace Serverless.Core.Protocol;

/// <summary>The durable decision records of transactions: one per transaction, written once, first writer wins, never changed.</summary>
/// <remarks>
/// Whoever acts on a decision (phase 2, a one-phase participant, in-doubt resolution) acts on the record's value, not on
/// what it proposed: that is what keeps a decision taken once (I2). Only the coordinator's app holds the records.
/// </remarks>
public interface IDecisionRecords
{
    /// <summary>
    /// Records <paramref name="proposed"/> unless a decision is recorded already, and returns the recorded one. After a
    /// failure the proposal may or may not be recorded: call again, which answers the recorded one either way.
    /// </summary>
    Task<DecisionRecord> RecordAsync(string transactionId, DecisionRecord proposed, CancellationToken cancellationToken = default);
}
