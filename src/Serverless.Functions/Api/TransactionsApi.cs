using System.Globalization;
using Microsoft.DurableTask;
using Microsoft.DurableTask.Client;
using Microsoft.Extensions.Logging;
using Serverless.Core.Messaging;
using Serverless.Core.Protocol;
using Serverless.Functions.Coordination;
using Serverless.Functions.Http;
using Serverless.Functions.Messaging;
using Serverless.Functions.Participants;
using Serverless.Functions.Settings;
using Serverless.Functions.Storage;
using Serverless.Functions.Telemetry;

namespace Serverless.Functions.Api;

/// <summary>
/// The transactions API of DESIGN.md over the Durable client: a transaction is a <c>TwoPhaseCommit</c> instance whose id is
/// the transaction id; what it shows is what its orchestration published (<see cref="TransactionViews"/>). The listing is
/// <see cref="TransactionListing"/>.
/// </summary>
public sealed class TransactionsApi(
    TransactionsSettings settings,
    ParticipantRegistry participants,
    DecisionStore decisions,
    TransactionClaims claims,
    BeginRecords begun,
    TransactionViews views,
    EngineLag engineLag,
    TimeProvider time,
    ILogger<TransactionsApi> logger)
{
    /// <summary>Every runtime status: an id is never reused, whatever became of its instance.</summary>
    private static readonly IReadOnlyList<string> AnyStatus = [.. Enum.GetNames<OrchestrationRuntimeStatus>()];

    public async Task<IResult> StartAsync(HttpRequest request, DurableTaskClient client, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(client);
        if (!TryGetWaitSeconds(request, out var wait, out var waitProblem))
        {
            return waitProblem!;
        }

        var (body, bodyProblem) = await Problems.ReadJsonBodyAsync(request, StartRequestParser.MaxBodyBytes, cancellationToken);
        if (bodyProblem is not null)
        {
            return bodyProblem;
        }

        TransactionRequest parsed;
        using (body)
        {
            var (result, errors) = StartRequestParser.Parse(body!.RootElement, participants.Kinds, settings.DefaultTimeoutSeconds, time.GetUtcNow());
            if (result is null)
            {
                return Problems.Validation(errors);
            }

            parsed = result;
        }

        if (await AdmitAsync(parsed, cancellationToken) is { } refused)
        {
            return refused;
        }

        using var span = TransactionTelemetry.StartTransaction(parsed.Id, parsed.Branches.Count);

        // One claim per id, taken before anything is scheduled (I9): its participants keep their records of a transaction for
        // good, so a second transaction under the id would meet them.
        var (claim, holder) = await claims.ClaimAsync(parsed.Id, parsed.RequestHash, parsed.Deadline, cancellationToken);
        switch (claim)
        {
            case ClaimOutcome.Purged:
                return Problems.Conflict(
                    $"transaction '{parsed.Id}' ended and was purged from the history at {holder!.PurgedAt:o}; a transaction id is never used twice: use another transactionId");
            case ClaimOutcome.OtherRequest:
                return Problems.Conflict(holder!.IsPresumedAbort
                    ? $"transaction id '{parsed.Id}' was taken by a presumed abort (a participant asked about it before any start did); use another transactionId"
                    : $"transaction '{parsed.Id}' already exists with a different request; use another transactionId");
        }

        // A branch only this coordinator can finish (a saga compensation, an HTTP participant's rollback) is owed even if an
        // operator purges the instance before it ended: its request is kept outside the instance until it ends (I10).
        if (BeginRecords.IsNeededFor(parsed, p => participants.TransportOf(p) == ParticipantTransport.Http))
        {
            parsed = await begun.BeginAsync(parsed, cancellationToken);
        }

        // Scheduled (also for a repeat, in case the first start stopped between its claim and this): the engine refuses an id
        // it already has (DedupeStatuses: every status), and then the instance tells whether it is this request again (the
        // claim says so for every transaction started since claims exist).
        try
        {
            await client.ScheduleNewOrchestrationInstanceAsync(
                TwoPhaseCommitFunctions.OrchestratorName, parsed, new StartOrchestrationOptions(parsed.Id) { DedupeStatuses = AnyStatus }, cancellationToken);
            if (claim == ClaimOutcome.Claimed)
            {
                TransactionTelemetry.TransactionStarted();
            }
        }
        catch (Exception ex) when (ex is not OperationCanceledException && !Storage.StorageErrors.IsUnreachable(ex))
        {
            // Another request with this id won the race, or the start failed: which one, the instance tells (storage that
            // cannot be reached fails the request at once instead).
            var existing = await client.GetInstanceAsync(parsed.Id, getInputsAndOutputs: true, cancellationToken);
            if (existing is null)
            {
                throw;
            }

            if (TransactionViews.TryReadInput(existing)?.RequestHash != parsed.RequestHash)
            {
                return Problems.Conflict($"transaction '{parsed.Id}' already exists with a different request; use another transactionId");
            }

            logger.StartRepeated(parsed.Id);
        }

        if (wait > TimeSpan.Zero && await WaitForEndAsync(client, parsed.Id, wait, cancellationToken) is { } finished)
        {
            return TypedResults.Ok(finished);
        }

        var started = Links(request, parsed.Id);
        return TypedResults.Accepted(started.StatusQueryGetUri, started);
    }

    /// <summary>The least lag a start is refused for, whatever its deadline: above host.json's idle polling interval (2 s).</summary>
    private const double MinimumLagLimitSeconds = 2.5;

    /// <summary>
    /// Admission control (<see cref="TransactionsSettings.MaxEngineLagSeconds"/>): a 429 while the engine is further behind
    /// than this start's deadline can afford, before anything is claimed or scheduled; null to go on.
    /// </summary>
    private async Task<IResult?> AdmitAsync(TransactionRequest request, CancellationToken cancellationToken)
    {
        if (settings.MaxEngineLagSeconds == 0)
        {
            return null;
        }

        var limit = TimeSpan.FromSeconds(Math.Min(settings.MaxEngineLagSeconds, Math.Max(request.TimeoutSeconds / 4.0, MinimumLagLimitSeconds)));
        var lag = await engineLag.GetAsync(cancellationToken);
        if (lag <= limit)
        {
            return null;
        }

        logger.StartRefused(request.Id, lag.TotalSeconds, limit.TotalSeconds);
        TransactionTelemetry.StartRefused();
        return Problems.TooManyRequests(
            $"the coordinator is {lag.TotalSeconds:0.0} s behind (the oldest message waiting in its task hub's queues), more than the " +
            $"{limit.TotalSeconds:0.#} s a transaction with timeoutSeconds {request.TimeoutSeconds} can afford; nothing was started: start it again after Retry-After (the same request with the same transactionId is safe)",
            lag < MaxRetryAfter ? lag : MaxRetryAfter);
    }

    /// <summary>The longest Retry-After a refused start is given: a lag says how old the backlog is, not when it will be worked off.</summary>
    private static readonly TimeSpan MaxRetryAfter = TimeSpan.FromSeconds(10);

    public async Task<IResult> GetAsync(string id, DurableTaskClient client, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(client);
        var instance = Identifiers.IsValidTransactionId(id) ? await client.GetInstanceAsync(id, getInputsAndOutputs: true, cancellationToken) : null;
        return instance is null || await views.ViewOfAsync(instance, cancellationToken) is not { } view ? Problems.NotFound(id) : TypedResults.Ok(view);
    }

    public async Task<IResult> AbortAsync(string id, HttpRequest request, DurableTaskClient client, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(client);
        var instance = Identifiers.IsValidTransactionId(id) ? await client.GetInstanceAsync(id, getInputsAndOutputs: true, cancellationToken) : null;
        if (instance is null && Identifiers.IsValidTransactionId(id) && await claims.GetAsync(id, cancellationToken) is { IsPurged: true } tombstone)
        {
            return Problems.Conflict($"transaction '{id}' ended and was purged from the history at {tombstone.PurgedAt:o}; it cannot be aborted");
        }

        if (instance is null || await views.ViewOfAsync(instance, cancellationToken) is not { } view)
        {
            return Problems.NotFound(id);
        }

        // A transaction that ended (or is being purged: only completed ones are) keeps its outcome, whatever it was.
        if (instance.RuntimeStatus == OrchestrationRuntimeStatus.Completed)
        {
            return Problems.Conflict($"transaction '{id}' has ended {view.Status} and cannot be aborted");
        }

        // Recorded first, first writer wins: the answer is exact even while the orchestration is deciding.
        var recorded = await decisions.RecordAsync(id, new DecisionRecord(Decision.Abort, "abort requested", time.GetUtcNow(), []), cancellationToken);
        if (recorded.Decision == Decision.Commit)
        {
            return Problems.Conflict($"transaction '{id}' is already decided Commit and cannot be aborted");
        }

        logger.AbortRecorded(id);
        if (!instance.IsCompleted)
        {
            await client.RaiseEventAsync(id, TransactionEvents.Abort, new AbortEvent(), cancellationToken);
        }

        if (view.Decision is null)
        {
            view = view with { Status = nameof(TransactionStatus.Aborting), Decision = nameof(Decision.Abort), Reason = recorded.Reason, DecidedAt = recorded.DecidedAt };
        }

        return TypedResults.Accepted(Links(request, id).StatusQueryGetUri, view);
    }

    /// <summary>The status document once the transaction's orchestration completed, or null if it did not within <paramref name="wait"/>.</summary>
    private async Task<TransactionView?> WaitForEndAsync(DurableTaskClient client, string id, TimeSpan wait, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(wait);
        try
        {
            var instance = await client.WaitForInstanceCompletionAsync(id, getInputsAndOutputs: true, timeout.Token);
            return await views.ViewOfAsync(instance, cancellationToken) is { IsTerminal: true } view ? view : null;
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return null;
        }
    }

    private static bool TryGetWaitSeconds(HttpRequest request, out TimeSpan wait, out IResult? problem)
    {
        wait = TimeSpan.Zero;
        problem = null;
        if (!request.Query.TryGetValue("waitSeconds", out var text))
        {
            return true;
        }

        if (!int.TryParse(text.ToString(), NumberStyles.None, CultureInfo.InvariantCulture, out var seconds) || seconds > 60)
        {
            problem = Problems.Validation(new() { ["waitSeconds"] = ["Must be a whole number from 0 to 60."] });
            return false;
        }

        wait = TimeSpan.FromSeconds(seconds);
        return true;
    }

    /// <summary>A start's long poll, 0–60 s; anything else counts as 0 (the route answers 400 for it).</summary>
    public static TimeSpan WaitSeconds(HttpRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        return TryGetWaitSeconds(request, out var wait, out _) ? wait : TimeSpan.Zero;
    }

    private static StartedDocument Links(HttpRequest request, string id)
    {
        var status = $"{request.Scheme}://{request.Host}{request.PathBase}/api/transactions/{id}";
        return new StartedDocument(id, status, $"{status}/abort");
    }
}
