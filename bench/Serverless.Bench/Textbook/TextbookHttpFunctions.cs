using System.Globalization;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Azure.Functions.Worker;
using Microsoft.DurableTask;
using Microsoft.DurableTask.Client;
using Serverless.Core.Messaging;

namespace Serverless.Bench.Textbook;

/// <summary>
/// The textbook's HTTP starter and status query: <c>POST /api/textbook/transactions?waitSeconds=N</c> with the product's start
/// body (only <c>transactionId</c>, <c>timeoutSeconds</c> and <c>participants</c> of <c>bank</c> are read) schedules
/// <see cref="TextbookNames.Orchestrator"/> and waits for it; <c>GET /api/textbook/transactions/{id}</c> answers where it is.
/// </summary>
public static class TextbookHttpFunctions
{
    /// <summary>Every runtime status: a start repeated with the same id waits for the first one rather than starting another.</summary>
    private static readonly IReadOnlyList<string> AnyStatus = [.. Enum.GetNames<OrchestrationRuntimeStatus>()];

    /// <summary>Answers 200 with <see cref="TextbookStatus"/> when the transaction ends within <c>waitSeconds</c> (0–60, default 0), else 202.</summary>
    [Function("TextbookStartTransaction")]
    public static async Task<IResult> Start(
        [HttpTrigger(AuthorizationLevel.Function, "post", Route = TextbookNames.Route)] HttpRequest request,
        [DurableClient] DurableTaskClient client,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(client);
        var wait = 0;
        if (request.Query.TryGetValue("waitSeconds", out var waitText)
            && (!int.TryParse(waitText.ToString(), NumberStyles.None, CultureInfo.InvariantCulture, out wait) || wait > 60))
        {
            return BadRequest("waitSeconds must be a whole number from 0 to 60");
        }

        TextbookRequest? input;
        string? error;
        try
        {
            using var body = await JsonDocument.ParseAsync(request.Body, cancellationToken: cancellationToken);
            (input, error) = Parse(body.RootElement);
        }
        catch (JsonException ex)
        {
            (input, error) = (null, $"malformed JSON: {ex.Message}");
        }

        if (input is null)
        {
            return BadRequest(error!);
        }

        try
        {
            await client.ScheduleNewOrchestrationInstanceAsync(
                TextbookNames.Orchestrator, input, new StartOrchestrationOptions(input.Id) { DedupeStatuses = AnyStatus }, cancellationToken);
        }
        catch (InvalidOperationException)
        {
            // Started before with this id (a client's retry): wait for that one.
        }

        if (wait > 0)
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(TimeSpan.FromSeconds(wait));
            try
            {
                var instance = await client.WaitForInstanceCompletionAsync(input.Id, getInputsAndOutputs: true, timeout.Token);
                return TypedResults.Ok(StatusOf(instance));
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                // Not ended in time: 202 below.
            }
        }

        var location = $"/api/{TextbookNames.Route}/{input.Id}";
        return TypedResults.Accepted(location, new TextbookStatus(input.Id, nameof(OrchestrationRuntimeStatus.Running)));
    }

    /// <summary>Answers 200 with <see cref="TextbookStatus"/>, or 404 for an unknown id.</summary>
    [Function("TextbookGetTransaction")]
    public static async Task<IResult> Get(
        [HttpTrigger(AuthorizationLevel.Function, "get", Route = TextbookNames.Route + "/{id}")] HttpRequest request,
        string id,
        [DurableClient] DurableTaskClient client,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(client);
        var instance = Identifiers.IsValidTransactionId(id) ? await client.GetInstanceAsync(id, getInputsAndOutputs: true, cancellationToken) : null;
        return instance is null
            ? TypedResults.Problem($"no textbook transaction '{id}'", statusCode: StatusCodes.Status404NotFound)
            : TypedResults.Ok(StatusOf(instance));
    }

    /// <summary>The request, or why not: <c>transactionId</c> (optional), <c>timeoutSeconds</c> (1–3600, default 30), 1–64 <c>bank</c> branches.</summary>
    private static (TextbookRequest? Request, string? Error) Parse(JsonElement body)
    {
        if (body.ValueKind != JsonValueKind.Object)
        {
            return (null, "the body must be a JSON object");
        }

        var id = Guid.NewGuid().ToString("N");
        if (body.TryGetProperty("transactionId", out var idElement))
        {
            id = idElement.ValueKind == JsonValueKind.String ? idElement.GetString()! : string.Empty;
            if (!Identifiers.IsValidTransactionId(id))
            {
                return (null, "transactionId must be 1-64 of [A-Za-z0-9_-]");
            }
        }

        var timeout = 30;
        if (body.TryGetProperty("timeoutSeconds", out var timeoutElement)
            && (timeoutElement.ValueKind != JsonValueKind.Number || !timeoutElement.TryGetInt32(out timeout) || timeout is < 1 or > 3600))
        {
            return (null, "timeoutSeconds must be a whole number from 1 to 3600");
        }

        if (!body.TryGetProperty("participants", out var participants) || participants.ValueKind != JsonValueKind.Array
            || participants.GetArrayLength() is < 1 or > Identifiers.MaxBranches)
        {
            return (null, $"participants must be an array of 1-{Identifiers.MaxBranches} branches");
        }

        var branches = new List<TextbookBranch>();
        foreach (var branch in participants.EnumerateArray())
        {
            if (branch.ValueKind != JsonValueKind.Object
                || !branch.TryGetProperty("participant", out var participant) || participant.ValueKind != JsonValueKind.String || participant.GetString() != TextbookNames.Bank
                || !branch.TryGetProperty("operation", out var operation) || operation.ValueKind != JsonValueKind.Object)
            {
                return (null, $"participants[{branches.Count}] must be {{\"participant\":\"{TextbookNames.Bank}\",\"operation\":{{...}}}} (the textbook runs the bank only)");
            }

            branches.Add(new TextbookBranch(branches.Count, TextbookNames.Bank, operation.GetRawText()));
        }

        return (new TextbookRequest(id, timeout, branches), null);
    }

    /// <summary>The orchestration's output once it completed; its runtime status otherwise (Running, Failed, ...).</summary>
    private static TextbookStatus StatusOf(OrchestrationMetadata instance) => new(
        instance.InstanceId,
        instance.RuntimeStatus == OrchestrationRuntimeStatus.Completed
            ? instance.ReadOutputAs<string>() ?? nameof(OrchestrationRuntimeStatus.Completed)
            : instance.RuntimeStatus.ToString());

    private static ProblemHttpResult BadRequest(string detail) =>
        TypedResults.Problem(detail, statusCode: StatusCodes.Status400BadRequest);
}
