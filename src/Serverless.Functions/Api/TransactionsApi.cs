using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.DurableTask;
using Microsoft.DurableTask.Client;
using Microsoft.Extensions.Logging;
using Serverless.Core.Messaging;
using Serverless.Core.Protocol;
using Serverless.Functions.Coordination;
using Serverless.Functions.Faults;
using Serverless.Functions.Messaging;
using Serverless.Functions.Telemetry;
using Serverless.Functions.Hosting;
using Serverless.Functions.Participants;

namespace Serverless.Functions.Api;

/// <summary>
/// The transactions API of DESIGN.md over the Durable client: a transaction is a <c>TwoPhaseCommit</c> instance whose id is
/// the transaction id; its custom status is the status document's content.
/// </summary>
public sealed class TransactionsApi(
    TransactionsSettings settings, DecisionStore decisions, LocalDelivery delivery, TransactionEndings endings, TimeProvider time, ILogger<TransactionsApi> logger)
{
    /// <summary>Every runtime status: an id is never reused, whatever became of its instance.</summary>
    private static readonly IReadOnlyList<string> AnyStatus = [.. Enum.GetNames<OrchestrationRuntimeStatus>()];

    /// <summary>Most instance queries one listing request makes to fill a filtered page.</summary>
    private const int MaxQueriesPerPage = 10;

    public async Task<IResult> StartAsync(HttpRequest request, DurableTaskClient client, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(client);
        if (!TryGetWaitSeconds(request, out var wait, out var waitProblem))
        {
            return waitProblem!;
        }

        var (body, bodyProblem) = await Problems.ReadJsonBodyAsync(request, StartRequestParser.MaxBodyBytes, StartRequestParser.DocumentOptions, cancellationToken);
        if (bodyProblem is not null)
        {
            return bodyProblem;
        }

        TransactionRequest parsed;
        using (body)
        {
            var (result, errors) = StartRequestParser.Parse(body!.RootElement, settings.Participants, settings.DefaultTimeoutSeconds, time.GetUtcNow());
            if (result is null)
            {
                return Problems.Validation(errors);
            }

            parsed = result with { PreparesSent = settings.FastPath };
        }

        using var span = TransactionTelemetry.StartTransaction(parsed.Id, parsed.Branches.Count);

        // Before any prepare leaves: the voter that ends the transaction in this process tells this request at once.
        using var ending = wait > TimeSpan.Zero && parsed.PreparesSent ? endings.Listen(parsed.Id) : null;
        // Scheduled at once: the engine refuses an id it already has (DedupeStatuses: every status), and then the instance
        // tells whether it is this request again or another one. The engine reads the instance itself before it writes, so
        // a read of ours first would only add a storage round trip to every start.
        OrchestrationMetadata? existing = null;
        var scheduled = false;
        try
        {
            await client.ScheduleNewOrchestrationInstanceAsync(
                TwoPhaseCommitFunctions.OrchestratorName, parsed, new StartOrchestrationOptions(parsed.Id) { DedupeStatuses = AnyStatus }, cancellationToken);
            TransactionTelemetry.TransactionStarted();
            scheduled = true;
        }
        catch (Exception ex) when (ex is not OperationCanceledException && !Storage.StorageErrors.IsUnreachable(ex))
        {
            // Another request with this id won the race, or the start failed: which one, the instance tells (storage that
            // cannot be reached fails the request at once instead).
            existing = await client.GetInstanceAsync(parsed.Id, getInputsAndOutputs: true, cancellationToken);
            if (existing is null)
            {
                throw;
            }
        }

        if (scheduled && parsed.PreparesSent)
        {
            await SendPreparesAsync(parsed, client, cancellationToken);
        }

        var transaction = parsed;
        if (existing is not null)
        {
            var first = TryReadInput(existing);
            if (first?.RequestHash != parsed.RequestHash)
            {
                return Problems.Conflict($"transaction '{parsed.Id}' already exists with a different request; use another transactionId");
            }

            logger.StartRepeated(parsed.Id);
            transaction = first!;
            if (first is { PreparesSent: true } && time.GetUtcNow() < first.Deadline
                && await decisions.GetAsync(parsed.Id, cancellationToken) is null)
            {
                // Undecided before its deadline: the first start may have stopped before all its prepares left. Sent again
                // (duplicates are harmless, I5), they let a client's retry finish what a crash interrupted instead of waiting
                // for the deadline's abort.
                await SendPreparesAsync(first, client, cancellationToken);
            }
        }

        if (wait > TimeSpan.Zero && await WaitForEndAsync(client, transaction, wait, ending?.Ended, cancellationToken) is { } finished)
        {
            return TypedResults.Ok(finished);
        }

        var started = Links(request, parsed.Id);
        return TypedResults.Accepted(started.StatusQueryGetUri, started);
    }

    /// <summary>
    /// The fast path's prepares, sent by the start request once the orchestration is scheduled (so that every vote finds its
    /// instance): one round trip through the orchestration and an activity less before the participants start; those of this
    /// app's participants are handled in this process at once (<see cref="LocalDelivery"/>). A crash before they all leave
    /// leaves the transaction to its deadline (I4), or to the client's retry, which sends them again.
    /// </summary>
    private async Task SendPreparesAsync(TransactionRequest request, DurableTaskClient client, CancellationToken cancellationToken)
    {
        CrashPoints.Reached(CrashPoint.BeforePrepareSends, request.Id);
        await delivery.SendAsync(request.Id, request.FastPathPrepares(), client, cancellationToken);
    }

    public async Task<IResult> GetAsync(string id, DurableTaskClient client, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(client);
        var instance = Identifiers.IsValidTransactionId(id) ? await client.GetInstanceAsync(id, getInputsAndOutputs: true, cancellationToken) : null;
        return instance is null || await ViewOfAsync(instance, cancellationToken) is not { } view ? Problems.NotFound(id) : TypedResults.Ok(StatusDocument.From(id, view));
    }

    public async Task<IResult> ListAsync(HttpRequest request, DurableTaskClient client, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(client);
        var errors = new Dictionary<string, string[]>(StringComparer.Ordinal);
        TransactionStatus? status = null;
        if (request.Query.TryGetValue("status", out var statusText))
        {
            if (Enum.TryParse<TransactionStatus>(statusText.ToString(), ignoreCase: true, out var s) && Enum.IsDefined(s) && !statusText.ToString().Any(char.IsDigit))
            {
                status = s;
            }
            else
            {
                errors["status"] = [$"Must be one of {string.Join(", ", Enum.GetNames<TransactionStatus>())}."];
            }
        }

        var top = 100;
        if (request.Query.TryGetValue("top", out var topText)
            && (!int.TryParse(topText.ToString(), NumberStyles.None, CultureInfo.InvariantCulture, out top) || top is < 1 or > 1000))
        {
            errors["top"] = ["Must be a whole number from 1 to 1000."];
        }

        string? token = null;
        if (request.Query.TryGetValue("continuationToken", out var tokenText) && !TryDecodeToken(tokenText.ToString(), out token))
        {
            errors["continuationToken"] = ["Not a token this API issued."];
        }

        if (errors.Count > 0)
        {
            return Problems.Validation(errors);
        }

        var query = new OrchestrationQuery
        {
            Statuses = status switch
            {
                null => null,
                // An instance that failed or was terminated shows its decision (ViewOfAsync): never Preparing.
                TransactionStatus.Preparing => [OrchestrationRuntimeStatus.Running, OrchestrationRuntimeStatus.Pending, OrchestrationRuntimeStatus.Suspended],
                // A running instance may show Committed: its deciding voter ended it (ViewOfAsync).
                TransactionStatus.Committed => [OrchestrationRuntimeStatus.Completed, OrchestrationRuntimeStatus.Running, OrchestrationRuntimeStatus.Pending, .. EndedWithoutOutcome],
                TransactionStatus.Aborted => [OrchestrationRuntimeStatus.Completed, .. EndedWithoutOutcome],
                _ => [OrchestrationRuntimeStatus.Running, OrchestrationRuntimeStatus.Pending, OrchestrationRuntimeStatus.Suspended, .. EndedWithoutOutcome],
            },
            FetchInputsAndOutputs = true,
        };

        var items = new List<StatusDocument>();
        for (var queries = 0; queries < MaxQueriesPerPage && items.Count < top; queries++)
        {
            Page<OrchestrationMetadata>? page;
            try
            {
                page = await FirstPageAsync(client.GetAllInstancesAsync(query with { PageSize = top - items.Count }), token, top - items.Count, cancellationToken);
            }
            catch (Exception ex) when (token is not null && ex is not OperationCanceledException && !Storage.StorageErrors.IsUnreachable(ex))
            {
                return Problems.Validation(new() { ["continuationToken"] = ["Not a token this API issued."] });
            }

            foreach (var instance in page?.Values ?? [])
            {
                if (instance.Name == TwoPhaseCommitFunctions.OrchestratorName
                    && await ViewOfAsync(instance, cancellationToken) is { } view
                    && (status is null || view.Status == status.ToString()))
                {
                    items.Add(StatusDocument.From(instance.InstanceId, view));
                }
            }

            token = page?.ContinuationToken;
            if (string.IsNullOrEmpty(token))
            {
                token = null;
                break;
            }
        }

        // The task hub lists instances in its own order, page by page; within a page, newest first.
        items.Sort((a, b) => b.CreatedAt.CompareTo(a.CreatedAt));
        return TypedResults.Ok(new TransactionListDocument(items, token is null ? null : EncodeToken(token)));
    }

    public async Task<IResult> AbortAsync(string id, HttpRequest request, DurableTaskClient client, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(client);
        var instance = Identifiers.IsValidTransactionId(id) ? await client.GetInstanceAsync(id, getInputsAndOutputs: true, cancellationToken) : null;
        if (instance is null || await ViewOfAsync(instance, cancellationToken) is not { } view)
        {
            return Problems.NotFound(id);
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

        return TypedResults.Accepted(Links(request, id).StatusQueryGetUri, StatusDocument.From(id, view));
    }

    /// <summary>
    /// What an instance shows: its custom status, its output once completed, or its input before it first ran; but a running
    /// transaction on the fast path whose deciding voter ended it (<see cref="TransactionEnd"/>, recorded beside its decision)
    /// shows that end, as its orchestration will once it applies the voter's report, so that no read ever goes back from what
    /// the start's answer or an earlier read said (one more storage read, for a running fast-path transaction only). An instance
    /// that failed or was terminated no longer carries its transaction (in-doubt resolution finishes it from the decision
    /// record), so it shows the recorded decision as Committing or Aborting, or, with none recorded, Aborting without a
    /// decision (presumed abort is the only outcome left, I4), its reason naming how the orchestration ended. Never
    /// Preparing, and never throws on an input or status it cannot read (a poison input).
    /// </summary>
    public async Task<TransactionView?> ViewOfAsync(OrchestrationMetadata instance, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(instance);
        var view = ReadView(instance);
        if (view is { IsTerminal: false } && instance.RuntimeStatus is OrchestrationRuntimeStatus.Running or OrchestrationRuntimeStatus.Pending
            && TryReadInput(instance) is { PreparesSent: true } request)
        {
            return await decisions.ReadBoardAsync(instance.InstanceId, cancellationToken) is { End: { } end } board
                ? TransactionView.EndedByBranch(request, board.VoteEvents(), end) ?? view
                : view;
        }

        if (!EndedWithoutOutcome.Contains(instance.RuntimeStatus) || view is { IsTerminal: true })
        {
            return view;
        }

        view ??= new TransactionView(nameof(TransactionStatus.Preparing), null, null, instance.CreatedAt, instance.CreatedAt, null, null, []);
        var ended = instance.RuntimeStatus == OrchestrationRuntimeStatus.Failed
            ? $"the orchestration failed ({(instance.FailureDetails is { } f ? $"{f.ErrorType}: {f.ErrorMessage}" : instance.SerializedOutput)})"
            : $"the orchestration was {instance.RuntimeStatus.ToString().ToLowerInvariant()}";
        if (await decisions.GetAsync(instance.InstanceId, cancellationToken) is { } recorded)
        {
            return view with
            {
                Status = recorded.Decision == Decision.Commit ? nameof(TransactionStatus.Committing) : nameof(TransactionStatus.Aborting),
                Decision = recorded.Decision.ToString(),
                Reason = Clip(recorded.Reason?.StartsWith(TwoPhaseCommitOrchestration.FailureReasonPrefix, StringComparison.Ordinal) == true
                    ? recorded.Reason
                    : $"{ended}; {recorded.Decision} is recorded{(recorded.Reason is { } why ? $" ({why})" : string.Empty)}; in-doubt resolution finishes the branches"),
                DecidedAt = recorded.DecidedAt,
            };
        }

        return view with
        {
            Status = nameof(TransactionStatus.Aborting),
            Decision = null,
            Reason = Clip($"{ended} before a decision was recorded; presumed abort: in-doubt resolution rolls back any prepared branch"),
            DecidedAt = null,
        };
    }

    /// <summary>Runtime statuses of an instance that ended without carrying its transaction to the end.</summary>
#pragma warning disable CS0618 // Canceled is obsolete in the SDK, but a backend may still report it.
    private static readonly OrchestrationRuntimeStatus[] EndedWithoutOutcome =
        [OrchestrationRuntimeStatus.Failed, OrchestrationRuntimeStatus.Terminated, OrchestrationRuntimeStatus.Canceled];
#pragma warning restore CS0618

    private static TransactionView? ReadView(OrchestrationMetadata instance)
    {
        try
        {
            if (instance.RuntimeStatus == OrchestrationRuntimeStatus.Completed && instance.SerializedOutput is not null)
            {
                return instance.ReadOutputAs<TransactionView>();
            }

            if (instance.SerializedCustomStatus is not null)
            {
                return instance.ReadCustomStatusAs<TransactionView>();
            }
        }
        catch (JsonException)
        {
            // Not written by this version of the orchestration: fall back to the input.
        }

        return TryReadInput(instance) is { } request ? TransactionView.Pending(request) : null;
    }

    /// <summary>The instance's input, or null when it has none or it is not a request (a poison input).</summary>
    private static TransactionRequest? TryReadInput(OrchestrationMetadata instance)
    {
        try
        {
            return instance.ReadInputAs<TransactionRequest>() is { Branches: not null } request ? request : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static string Clip(string text) => text.Length > TransactionView.MaxReasonLength ? text[..TransactionView.MaxReasonLength] + "…" : text;

    /// <summary>
    /// The status document once the transaction ended, or null if it did not within <paramref name="wait"/>: as soon as a
    /// voter of this process reports that it ended it (<paramref name="endedHere"/>), else when the orchestration completes.
    /// </summary>
    private async Task<StatusDocument?> WaitForEndAsync(
        DurableTaskClient client, TransactionRequest request, TimeSpan wait, Task<VoteEvent>? endedHere, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(wait);
        var completed = client.WaitForInstanceCompletionAsync(request.Id, getInputsAndOutputs: true, timeout.Token);
        try
        {
            if (endedHere is not null && await Task.WhenAny(completed, endedHere) == endedHere
                && (await endedHere) is { Ended: { } end } report
                && TransactionView.EndedByBranch(request, [report, .. report.Others ?? []], end) is { } ended)
            {
                logger.AnsweredFromReport(request.Id);
                await timeout.CancelAsync();
                _ = completed.ContinueWith(static t => t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
                return StatusDocument.From(request.Id, ended);
            }

            var instance = await completed;
            return await ViewOfAsync(instance, cancellationToken) is { IsTerminal: true } view ? StatusDocument.From(request.Id, view) : null;
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return null;
        }
    }

    private static async Task<Page<OrchestrationMetadata>?> FirstPageAsync(AsyncPageable<OrchestrationMetadata> pageable, string? token, int size, CancellationToken cancellationToken)
    {
        await foreach (var page in pageable.AsPages(token, size).WithCancellation(cancellationToken))
        {
            return page;
        }

        return null;
    }

    /// <summary>
    /// The task hub's continuation token, wrapped with a check so that a token this API never issued is a 400, not a
    /// start key handed to the backend: base64url of "{check}.{token}", the check being the first 8 bytes of SHA-256 of
    /// the token and this task hub's name, hex. Not a secret: it tells our tokens from made-up ones.
    /// </summary>
    private string EncodeToken(string token) =>
        Convert.ToBase64String(Encoding.UTF8.GetBytes($"{TokenCheck(token)}.{token}")).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    private bool TryDecodeToken(string text, out string? token)
    {
        token = null;
        if (text.Length is 0 or > 4096 || !text.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_'))
        {
            return false;
        }

        var base64 = text.Replace('-', '+').Replace('_', '/');
        base64 = base64.PadRight(base64.Length + ((4 - (base64.Length % 4)) % 4), '=');
        var bytes = new byte[base64.Length];
        if (!Convert.TryFromBase64String(base64, bytes, out var written))
        {
            return false;
        }

        string decoded;
        try
        {
            decoded = new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(bytes, 0, written);
        }
        catch (DecoderFallbackException)
        {
            return false;
        }

        var dot = decoded.IndexOf('.', StringComparison.Ordinal);
        if (dot <= 0 || dot == decoded.Length - 1 || !string.Equals(decoded[..dot], TokenCheck(decoded[(dot + 1)..]), StringComparison.Ordinal))
        {
            return false;
        }

        token = decoded[(dot + 1)..];
        return true;
    }

    private string TokenCheck(string token) =>
        Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes($"{settings.TaskHub}\n{token}")), 0, 8);

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
