using Microsoft.Extensions.Logging;

namespace Serverless.Functions;

/// <summary>Every log line of the app, with stable event ids; a line about a transaction carries {TransactionId}, one about a branch {Participant} too.</summary>
internal static partial class Logs
{
    [LoggerMessage(1000, LogLevel.Information, "Transaction {TransactionId} started with {BranchCount} branches, deadline {Deadline:o}")]
    public static partial void TransactionStarted(this ILogger logger, string transactionId, int branchCount, DateTimeOffset deadline);

    [LoggerMessage(1001, LogLevel.Information, "Transaction {TransactionId} decided {Decision}: {Reason}")]
    public static partial void TransactionDecided(this ILogger logger, string transactionId, string decision, string? reason);

    [LoggerMessage(1002, LogLevel.Information, "Transaction {TransactionId} ended {Status}")]
    public static partial void TransactionCompleted(this ILogger logger, string transactionId, string status);

    [LoggerMessage(1003, LogLevel.Warning, "Transaction {TransactionId} proposed {Proposed} but {Recorded} was already recorded ({Reason}); carrying out {Recorded}")]
    public static partial void DecisionAdopted(this ILogger logger, string transactionId, string proposed, string recorded, string? reason);

    [LoggerMessage(1004, LogLevel.Warning, "Transaction {TransactionId}: {Event} rejected: {Detail}")]
    public static partial void EventRejected(this ILogger logger, string transactionId, string @event, string? detail);

    [LoggerMessage(1009, LogLevel.Debug, "Transaction {TransactionId}: branch {Branch} acknowledged {Outcome} before this run knew the decision; kept until it does")]
    public static partial void AcknowledgementKept(this ILogger logger, string transactionId, int branch, string outcome);

    [LoggerMessage(1005, LogLevel.Warning, "Transaction {TransactionId}: activity {Activity} failed (attempt {Attempt}): {Error}; retrying on a durable timer")]
    public static partial void RecordingFailed(this ILogger logger, string transactionId, string activity, int attempt, string error);

    [LoggerMessage(1013, LogLevel.Warning, "Transaction {TransactionId}: activity {Activity} of branch {Branch} failed: {Error}; an unsent prepare ends in the deadline's abort, an unsent commit or rollback is sent again by the phase-2 retry")]
    public static partial void ActivityFailed(this ILogger logger, string transactionId, string activity, int branch, string error);

    [LoggerMessage(1006, LogLevel.Information, "Transaction {TransactionId}: start repeated with the same request; answering as the first time")]
    public static partial void StartRepeated(this ILogger logger, string transactionId);

    [LoggerMessage(1019, LogLevel.Information, "Transaction {TransactionId}: start refused (429): the engine is {LagSeconds:0.0} s behind, more than the {LimitSeconds:0.#} s its deadline can afford")]
    public static partial void StartRefused(this ILogger logger, string transactionId, double lagSeconds, double limitSeconds);

    [LoggerMessage(1007, LogLevel.Information, "Transaction {TransactionId}: abort requested; Abort recorded")]
    public static partial void AbortRecorded(this ILogger logger, string transactionId);

    [LoggerMessage(1008, LogLevel.Critical, "OPERATOR ALERT: transaction {TransactionId}: its orchestration failed ({Error}) and ends Failed; decision {Decision}; {Compensation}; branches: {Branches}")]
    public static partial void OrchestrationFailed(this ILogger logger, Exception exception, string transactionId, string error, string decision, string compensation, string branches);

    [LoggerMessage(1014, LogLevel.Warning, "Transaction {TransactionId}: the compensation of saga participant {Participant} branch {Branch} failed ({Failures} so far): {Error}; retried on the phase-2 timer")]
    public static partial void CompensationFailed(this ILogger logger, string transactionId, string participant, int branch, int failures, string error);

    [LoggerMessage(1015, LogLevel.Critical, "OPERATOR ALERT: transaction {TransactionId} aborted, but the compensation of saga participant {Participant} branch {Branch} keeps failing: heuristic outcome, its action's effect remains until a retry succeeds. {Heuristic}")]
    public static partial void HeuristicOutcome(this ILogger logger, string transactionId, string participant, int branch, string heuristic);



    [LoggerMessage(2002, LogLevel.Information, "Transaction {TransactionId}: participant {Participant} branch {Branch} has been prepared since {PreparedAt:o} without a decision; resolving")]
    public static partial void InDoubt(this ILogger logger, string transactionId, string participant, int branch, DateTimeOffset preparedAt);

    [LoggerMessage(2003, LogLevel.Warning, "Transaction {TransactionId}: {Reason}; Abort recorded for participant {Participant} branch {Branch}")]
    public static partial void PresumedAbort(this ILogger logger, string transactionId, string participant, int branch, string reason);

    [LoggerMessage(2004, LogLevel.Error, "Transaction {TransactionId}: participant {Participant} branch {Branch} is in doubt but its record holds no operation; an operator must finish it")]
    public static partial void InDoubtWithoutOperation(this ILogger logger, string transactionId, string participant, int branch);

    [LoggerMessage(2005, LogLevel.Warning, "In-doubt resolution for participant {Participant} failed; retrying at the next run")]
    public static partial void InDoubtPassFailed(this ILogger logger, Exception exception, string participant);

    [LoggerMessage(2007, LogLevel.Warning, "Transaction {TransactionId}: in-doubt resolution of participant {Participant} branch {Branch} failed ({Error}); retrying at the next run")]
    public static partial void InDoubtBranchFailed(this ILogger logger, Exception exception, string transactionId, string participant, int branch, string error);

    [LoggerMessage(2006, LogLevel.Warning, "Transaction {TransactionId}: the reply of participant {Participant} branch {Branch} could not be delivered to its orchestration: {Error}")]
    public static partial void ReplyNotDelivered(this ILogger logger, string transactionId, string participant, int branch, string error);

    [LoggerMessage(2011, LogLevel.Error, "Transaction {TransactionId}: handling the {Command} of participant {Participant} branch {Branch} in this process failed ({Error}); its queue function handles it")]
    public static partial void LocalDeliveryFailed(this ILogger logger, Exception exception, string transactionId, string participant, int branch, string command, string error);

    [LoggerMessage(2013, LogLevel.Warning, "A command of participant {Participant} that this process could not handle could not be handed back to its queue ({Error}); its queue function gets it when its lease of {LeaseSeconds} s ends")]
    public static partial void LocalDeliveryNotReleased(this ILogger logger, string participant, string error, double leaseSeconds);

    [LoggerMessage(2014, LogLevel.Debug, "Transaction {TransactionId}: the {Command} of participant {Participant} branch {Branch} was handled in this process and deleted from its inbox")]
    public static partial void LocalDeliveryHandled(this ILogger logger, string transactionId, string participant, int branch, string command);

    [LoggerMessage(2012, LogLevel.Warning, "Transaction {TransactionId}: a command of participant {Participant} handled in this process could not be deleted ({Error}); its second delivery is answered as the first")]
    public static partial void LocalDeliveryNotDeleted(this ILogger logger, string transactionId, string participant, string error);

    [LoggerMessage(1016, LogLevel.Warning, "Transaction {TransactionId}: its orchestration {Ended} before the transaction ended; started again to finish it by the recorded decision, or presumed abort")]
    public static partial void EndedRunRestarted(this ILogger logger, string transactionId, string ended);

    [LoggerMessage(1017, LogLevel.Debug, "Transaction {TransactionId}: not started again to finish it: {Detail}")]
    public static partial void EndedRunNotRestarted(this ILogger logger, string transactionId, string detail);

    [LoggerMessage(1018, LogLevel.Error, "Transaction {TransactionId}: its orchestration ended {Status} and cannot be run again to finish it: {Problem}; nothing was sent for an input no run can read")]
    public static partial void EndedRunNotFinishable(this ILogger logger, string transactionId, string status, string problem);

    [LoggerMessage(1020, LogLevel.Error, "Transaction {TransactionId}: its instance was purged before the transaction ended and its begin record cannot be read ({Problem}); its saga and HTTP branches are not finished")]
    public static partial void BeginRecordUnreadable(this ILogger logger, string transactionId, string problem);

    [LoggerMessage(2015, LogLevel.Warning, "Transaction {TransactionId}: participant {Participant} branch {Branch} did not take its {Command} over HTTP ({Error}); it is sent again on the phase-2 timer")]
    public static partial void HttpPhase2NotTaken(this ILogger logger, string transactionId, string participant, int branch, string command, string error);

    [LoggerMessage(4000, LogLevel.Warning, "Storage is not reachable yet ({Error}); retrying")]
    public static partial void StorageUnavailable(this ILogger logger, string error);

    [LoggerMessage(4001, LogLevel.Information, "Storage ready: tables {Tables}")]
    public static partial void StorageReady(this ILogger logger, string tables);

    [LoggerMessage(4002, LogLevel.Warning, "{Method} {Path}: storage is not reachable ({Error}); answered 503")]
    public static partial void RequestStorageUnreachable(this ILogger logger, string method, string path, string error);

    [LoggerMessage(4003, LogLevel.Warning, "{Method} {Path}: storage did not answer within the request budget of {BudgetSeconds} s; answered 503")]
    public static partial void RequestOverBudget(this ILogger logger, string method, string path, double budgetSeconds);

    [LoggerMessage(4004, LogLevel.Error, "{Method} {Path} failed")]
    public static partial void RequestFailed(this ILogger logger, Exception exception, string method, string path);
}
