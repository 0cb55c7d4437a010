using Serverless.Core.Protocol;

namespace Serverless.Functions.Coordination;

/// <summary>The run that finishes what an ended run of the same transaction owes.</summary>
public sealed partial class TwoPhaseCommitOrchestration
{
    /// <summary>
    /// A run started again over an instance that ended without carrying its transaction to the end (it failed, or an operator
    /// terminated it; <see cref="EndedTransactions"/> starts this run): it sends no prepare and decides nothing new. The
    /// decision is the recorded one or, with none recorded, presumed abort, recorded first writer wins (I4); phase 2 then goes
    /// to every branch that may hold something (the votes the ended run saw are gone: under Abort every branch, every saga
    /// branch compensated; under Commit the Yes voters the record names) and is retried on the durable timers until each
    /// acknowledged (I7, I10), a compensation that keeps failing reported as a heuristic outcome, as in any run. Every command
    /// it sends again is idempotent at its participant (I5): a branch finished before is answered as then.
    /// </summary>
    /// <param name="ended">How the ended run ended, for the presumption's reason: "was terminated".</param>
    private async Task FinishEndedRunAsync(string ended)
    {
        var presumed = new DecisionRecord(Decision.Abort, $"presumed abort: the orchestration {ended} before a decision was recorded", Now, []);
        var recorded = await RecordAsync(presumed, []);
        var step = Coordinator.Adopt(_state, recorded, Now, _options);
        _logger.TransactionDecided(_state.Id, step.State.Decision.ToString()!, step.State.Reason);
        await TakeAsync(step, step.Commands);
    }
}
