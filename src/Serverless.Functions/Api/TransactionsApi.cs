using System.Globalization;
using System.Text.Json;
using Microsoft.AspNetCore.Http.HttpResults;
using Serverless.Core.Messaging;
using Serverless.Core.Protocol;
using Serverless.Functions.Hosting;
using Serverless.Runtime.Coordination;
using Serverless.Runtime.Storage;

namespace Serverless.Functions.Api;

/// <summary>The transactions API of DESIGN.md.</summary>
public static class TransactionsApi
{
    public static RouteGroupBuilder MapTransactionsApi(this RouteGroupBuilder api)
    {
        var group = api.MapGroup("/transactions");
        group.MapPost("/", StartAsync);
        group.MapGet("/", ListAsync);
        group.MapGet("/{id}", GetAsync);
        group.MapPost("/{id}/abort", AbortAsync);
        return group;
    }

    public static async Task<Results<Accepted<StartedDocument>, Ok<StatusDocument>, ProblemHttpResult>> StartAsync(
        HttpRequest request, TransactionCoordinator coordinator, TransactionsSettings settings, CompletionSignals signals, CancellationToken cancellationToken)
    {
        if (!TryGetWaitSeconds(request, out var wait, out var waitProblem))
        {
            return waitProblem!;
        }

        var (body, bodyProblem) = await Problems.ReadJsonBodyAsync(request, StartRequestParser.MaxBodyBytes, StartRequestParser.DocumentOptions, cancellationToken);
        if (bodyProblem is not null)
        {
            return bodyProblem;
        }

        using (body)
        {
            var (parsed, errors) = StartRequestParser.Parse(body!.RootElement, settings.Participants, settings.DefaultTimeoutSeconds);
            if (parsed is null)
            {
                return Problems.Validation(errors);
            }

            // Listen before starting: a transaction can end before StartAsync returns.
            var signal = wait > TimeSpan.Zero ? signals.WhenNotified(parsed.Id) : null;
            try
            {
                var (outcome, state) = await coordinator.StartAsync(parsed, cancellationToken);
                if (outcome == StartOutcome.IdConflict)
                {
                    return Problems.Conflict($"transaction '{parsed.Id}' already exists with a different request; use another transactionId");
                }

                if (signal is not null && await WaitForEndAsync(coordinator, signal, parsed.Id, state!, wait, cancellationToken) is { } finished)
                {
                    return TypedResults.Ok(StatusDocument.From(finished));
                }
            }
            finally
            {
                if (signal is not null)
                {
                    signals.Forget(parsed.Id);
                }
            }

            var started = Links(request, parsed.Id);
            return TypedResults.Accepted(started.StatusQueryGetUri, started);
        }
    }

    public static async Task<Results<Ok<StatusDocument>, ProblemHttpResult>> GetAsync(string id, TransactionCoordinator coordinator, CancellationToken cancellationToken)
    {
        var state = Identifiers.IsValidTransactionId(id) ? await coordinator.GetAsync(id, cancellationToken) : null;
        return state is null ? Problems.NotFound(id) : TypedResults.Ok(StatusDocument.From(state));
    }

    public static async Task<Results<Ok<TransactionListDocument>, ProblemHttpResult>> ListAsync(HttpRequest request, TransactionCoordinator coordinator, CancellationToken cancellationToken)
    {
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

        PageToken? after = null;
        if (request.Query.TryGetValue("continuationToken", out var tokenText) && !PageToken.TryDecode(tokenText.ToString(), out after))
        {
            errors["continuationToken"] = ["Not a token this API issued."];
        }

        if (errors.Count > 0)
        {
            return Problems.Validation(errors);
        }

        var page = await coordinator.Store.ListAsync(status, top, after, cancellationToken);
        return TypedResults.Ok(new TransactionListDocument([.. page.Items.Select(StatusDocument.From)], page.ContinuationToken));
    }

    public static async Task<Results<Accepted<StatusDocument>, ProblemHttpResult>> AbortAsync(
        string id, HttpRequest request, TransactionCoordinator coordinator, CancellationToken cancellationToken)
    {
        if (!Identifiers.IsValidTransactionId(id))
        {
            return Problems.NotFound(id);
        }

        var (outcome, state) = await coordinator.AbortAsync(id, null, cancellationToken);
        return outcome switch
        {
            AbortOutcome.NotFound => Problems.NotFound(id),
            AbortOutcome.AlreadyCommitted => Problems.Conflict($"transaction '{id}' is already decided Commit and cannot be aborted"),
            _ => TypedResults.Accepted(Links(request, id).StatusQueryGetUri, StatusDocument.From(state!)),
        };
    }

    private static async Task<TransactionState?> WaitForEndAsync(
        TransactionCoordinator coordinator, Task<TransactionState> signal, string id, TransactionState current, TimeSpan wait, CancellationToken cancellationToken)
    {
        var deadline = DateTimeOffset.UtcNow + wait;
        var poll = TimeSpan.FromMilliseconds(250);
        while (!current.Status.IsTerminal())
        {
            var left = deadline - DateTimeOffset.UtcNow;
            if (left <= TimeSpan.Zero)
            {
                return null;
            }

            // This process ending the transaction hands over its final state at once; polling (from 250 ms, up to
            // every 1 s) covers another process ending it, at a read per poll.
            await Task.WhenAny(signal, Task.Delay(left < poll ? left : poll, cancellationToken));
            cancellationToken.ThrowIfCancellationRequested();
            if (signal.IsCompletedSuccessfully)
            {
                return await signal;
            }

            poll = TimeSpan.FromMilliseconds(Math.Min(poll.TotalMilliseconds * 2, 1000));
            current = await coordinator.GetAsync(id, cancellationToken) ?? current;
        }

        return current;
    }

    private static bool TryGetWaitSeconds(HttpRequest request, out TimeSpan wait, out ProblemHttpResult? problem)
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

    private static StartedDocument Links(HttpRequest request, string id)
    {
        var status = $"{request.Scheme}://{request.Host}{request.PathBase}/api/transactions/{id}";
        return new StartedDocument(id, status, $"{status}/abort");
    }
}
