using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Http.Extensions;
using Microsoft.AspNetCore.Mvc;
using Microsoft.DurableTask;
using Microsoft.DurableTask.Client;
using Microsoft.Extensions.Primitives;
using Microsoft.Net.Http.Headers;
using Serverless.Functions.Storage;
using Serverless.LocalHost.Http;

namespace Serverless.LocalHost.Management;

/// <summary>
/// The Durable Functions HTTP management API, which the Functions host serves under <c>/runtime/webhooks/durabletask</c> for
/// every Durable app, for this host's one task hub and through the host's own <see cref="DurableTaskClient"/>: instance status
/// (and the list), terminate, suspend, resume, raise event and purge, with the Functions host's status codes and JSON, so
/// that operators' curl scripts and <c>statusQueryGetUri</c>-style links work against the local host too.
/// </summary>
/// <remarks>
/// On Azure these routes take the system key (or the master key) in <c>code</c>; here, when <c>TRANSACTIONS_API_KEY</c> is set,
/// that key, in <c>code</c> or <c>x-functions-key</c> (else 401), and when it is not, they are open as the app's routes are
/// (the host listens on loopback only). A <c>taskHub</c> or <c>connection</c> other than the host's own is a 400: the Functions
/// host would open another task hub, which this host does not have. Not served: starting an orchestration by name
/// (<c>orchestrators/{name}</c>, which would bypass the app's own start API), purge by filter, entities; rewind and restart
/// answer 501. Bodies where the Functions host gives one: its <c>{"Message": …}</c> for a 400; a problem document where it
/// gives none (401, 404, 410).
/// </remarks>
public static class ManagementApi
{
    /// <summary>The root of the routes, as on the Functions host.</summary>
    public const string BasePath = "/runtime/webhooks/durabletask";

    /// <summary>The request and response header carrying a listing's continuation token.</summary>
    public const string ContinuationHeader = "x-ms-continuation-token";

    /// <summary>The connection names that mean this host's task hub storage: Durable's own default, and the setting it reads.</summary>
    private static readonly string[] OwnConnections = ["Storage", "AzureWebJobsStorage"];

    // Not the app's JSON options (the app shares this container and may configure them): the Functions host's names.
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    /// <summary>Serves the routes for <paramref name="taskHub"/>, requiring <paramref name="apiKey"/> when it is set.</summary>
    public static void MapDurableManagementApi(this WebApplication app, string taskHub, string? apiKey)
    {
        ArgumentNullException.ThrowIfNull(app);
        ArgumentException.ThrowIfNullOrEmpty(taskHub);
        app.RequireApiKey(BasePath, apiKey);
        var instances = app.MapGroup($"{BasePath}/instances").AddEndpointFilter((context, next) =>
            OtherTaskHub(context.HttpContext.Request.Query, taskHub) is { } refused ? ValueTask.FromResult<object?>(refused) : next(context));

        instances.MapGet(string.Empty, ListAsync).WithDisplayName("Durable management: list instances");
        instances.MapGet("/{instanceId}", (HttpRequest request, string instanceId, [FromServices] DurableTaskClient client, CancellationToken cancellationToken) =>
            GetAsync(request, instanceId, taskHub, client, cancellationToken)).WithDisplayName("Durable management: instance status");
        instances.MapDelete("/{instanceId}", (string instanceId, [FromServices] DurableTaskClient client, [FromServices] ILoggerFactory loggers, CancellationToken cancellationToken) =>
            PurgeAsync(instanceId, taskHub, client, Logger(loggers), cancellationToken)).WithDisplayName("Durable management: purge instance");
        instances.MapPost("/{instanceId}/raiseEvent/{eventName}", (HttpRequest request, string instanceId, string eventName, [FromServices] DurableTaskClient client, [FromServices] ILoggerFactory loggers, CancellationToken cancellationToken) =>
            RaiseEventAsync(request, instanceId, eventName, taskHub, client, Logger(loggers), cancellationToken)).WithDisplayName("Durable management: raise event");
        foreach (var (operation, send) in new (string, Func<DurableTaskClient, string, string?, CancellationToken, Task>)[]
        {
            ("terminate", (client, id, reason, token) => client.TerminateInstanceAsync(id, new TerminateInstanceOptions(reason), token)),
            ("suspend", (client, id, reason, token) => client.SuspendInstanceAsync(id, reason, token)),
            ("resume", (client, id, reason, token) => client.ResumeInstanceAsync(id, reason, token)),
        })
        {
            instances.MapPost($"/{{instanceId}}/{operation}", (HttpRequest request, string instanceId, [FromServices] DurableTaskClient client, [FromServices] ILoggerFactory loggers, CancellationToken cancellationToken) =>
                ControlAsync(operation, send, request, instanceId, taskHub, client, Logger(loggers), cancellationToken)).WithDisplayName($"Durable management: {operation}");
        }

        foreach (var operation in new[] { "rewind", "restart" })
        {
            instances.MapPost($"/{{instanceId}}/{operation}", () => Error(StatusCodes.Status501NotImplemented, $"{operation} is not supported by the local Functions host."))
                .WithDisplayName($"Durable management: {operation} (not supported)");
        }
    }

    /// <summary>GET instances/{id}: 200 once ended, 202 (with <c>Location</c> and <c>Retry-After</c>) while not, 404 unknown.</summary>
    private static async Task<IResult> GetAsync(HttpRequest request, string instanceId, string taskHub, DurableTaskClient client, CancellationToken cancellationToken)
    {
        var showInput = Flag(request.Query, "showInput") ?? true;
        var instance = await client.GetInstanceAsync(instanceId, getInputsAndOutputs: true, cancellationToken);
        if (instance is null)
        {
            return NotFound(instanceId, taskHub);
        }

        var history = Flag(request.Query, "showHistory") == true && instance.RuntimeStatus != OrchestrationRuntimeStatus.Pending
            ? HistoryView.From(await client.GetOrchestrationHistoryAsync(instanceId, cancellationToken), Flag(request.Query, "showHistoryOutput") ?? false, showInput)
            : null;
        var status = instance.RuntimeStatus switch
        {
            OrchestrationRuntimeStatus.Failed when Flag(request.Query, "returnInternalServerErrorOnFailure") == true => StatusCodes.Status500InternalServerError,
            _ when instance.IsCompleted => StatusCodes.Status200OK,
            _ => StatusCodes.Status202Accepted,
        };
        if (status == StatusCodes.Status202Accepted)
        {
            // The polling pattern: ask again here, in 5 s (some clients otherwise retry in a tight loop).
            request.HttpContext.Response.Headers.Location = request.GetEncodedUrl();
            request.HttpContext.Response.Headers.RetryAfter = "5";
        }

        return TypedResults.Json(InstanceStatus.From(instance, showInput, history), Json, statusCode: status);
    }

    /// <summary>GET instances: one page of the task hub's instances, the next page's token in <see cref="ContinuationHeader"/>.</summary>
    private static async Task<IResult> ListAsync(HttpRequest request, [FromServices] DurableTaskClient client, CancellationToken cancellationToken)
    {
        var query = request.Query;
        var token = request.Headers[ContinuationHeader].FirstOrDefault() is { Length: > 0 } given ? given : null;
        var top = int.TryParse(query["top"], out var size) && size > 0 ? size : OrchestrationQuery.DefaultPageSize;
        var filter = new OrchestrationQuery
        {
            CreatedFrom = Time(query["createdTimeFrom"]),
            CreatedTo = Time(query["createdTimeTo"]),
            Statuses = Statuses(query["runtimeStatus"]),
            InstanceIdPrefix = query["instanceIdPrefix"].FirstOrDefault() is { Length: > 0 } prefix ? prefix : null,
            PageSize = top,
            ContinuationToken = token,

            // Custom status and output come only with the inputs.
            FetchInputsAndOutputs = true,
        };
        Page<OrchestrationMetadata>? page = null;
        try
        {
            await foreach (var first in client.GetAllInstancesAsync(filter).AsPages(token, top).WithCancellation(cancellationToken))
            {
                page = first;
                break;
            }
        }
        catch (Exception ex) when (token is not null && ex is not OperationCanceledException && !StorageErrors.IsUnreachable(ex))
        {
            return Error(StatusCodes.Status400BadRequest, $"The {ContinuationHeader} header is not a continuation token of this task hub's instances.");
        }

        if (page?.ContinuationToken is { Length: > 0 } next)
        {
            request.HttpContext.Response.Headers[ContinuationHeader] = next;
        }

        var showInput = Flag(query, "showInput") ?? true;
        return TypedResults.Json(page?.Values.Select(i => InstanceStatus.From(i, showInput)).ToList() ?? [], Json);
    }

    /// <summary>POST instances/{id}/terminate|suspend|resume?reason=: 202, 404 unknown, 410 when it has ended.</summary>
    private static async Task<IResult> ControlAsync(
        string operation,
        Func<DurableTaskClient, string, string?, CancellationToken, Task> send,
        HttpRequest request,
        string instanceId,
        string taskHub,
        DurableTaskClient client,
        ILogger logger,
        CancellationToken cancellationToken)
    {
        if (await EndedOrUnknownAsync(instanceId, taskHub, client, cancellationToken) is { } refused)
        {
            return refused;
        }

        var reason = request.Query["reason"].FirstOrDefault();
        await send(client, instanceId, reason, cancellationToken);
        logger.ManagementOperation(operation, instanceId, reason ?? "no reason given");
        return TypedResults.StatusCode(StatusCodes.Status202Accepted);
    }

    /// <summary>
    /// POST instances/{id}/raiseEvent/{name} with a JSON body: 202; 404 unknown, 410 ended, then 400 for a body that is not
    /// <c>application/json</c> or not JSON, in the Functions host's order.
    /// </summary>
    private static async Task<IResult> RaiseEventAsync(
        HttpRequest request, string instanceId, string eventName, string taskHub, DurableTaskClient client, ILogger logger, CancellationToken cancellationToken)
    {
        if (await EndedOrUnknownAsync(instanceId, taskHub, client, cancellationToken) is { } refused)
        {
            return refused;
        }

        if (!MediaTypeHeaderValue.TryParse(request.ContentType, out var type) || !type.MediaType.Equals("application/json", StringComparison.OrdinalIgnoreCase))
        {
            return Error(StatusCodes.Status400BadRequest, "Only application/json request content is supported");
        }

        JsonElement payload;
        try
        {
            using var body = await JsonDocument.ParseAsync(request.Body, cancellationToken: cancellationToken);
            payload = body.RootElement.Clone();
        }
        catch (JsonException ex)
        {
            return TypedResults.Json(new ErrorMessage("Invalid JSON content", ex.Message), Json, statusCode: StatusCodes.Status400BadRequest);
        }
        catch (BadHttpRequestException ex)
        {
            // Over the host's request size limit, or cut short.
            return Error(ex.StatusCode, ex.Message);
        }

        await client.RaiseEventAsync(instanceId, eventName, payload, cancellationToken);
        logger.ManagementOperation("raise event", instanceId, eventName);
        return TypedResults.StatusCode(StatusCodes.Status202Accepted);
    }

    /// <summary>DELETE instances/{id}: 200 <c>{"instancesDeleted": 1}</c> for an ended instance, 404 when there is none, 412 while it runs.</summary>
    private static async Task<IResult> PurgeAsync(string instanceId, string taskHub, DurableTaskClient client, ILogger logger, CancellationToken cancellationToken)
    {
        var instance = await client.GetInstanceAsync(instanceId, cancellationToken);
        if (instance is null)
        {
            return NotFound(instanceId, taskHub);
        }

        // The Functions host's answer to a purge of an instance that still runs: 412, its reason as a JSON string.
        if (!instance.IsCompleted)
        {
            return TypedResults.Json(
                $"Only orchestrations in a terminal state can be purged, but the orchestration with instance ID {instanceId} has status {instance.RuntimeStatus}",
                Json,
                statusCode: StatusCodes.Status412PreconditionFailed);
        }

        PurgeResult purged;
        try
        {
            purged = await client.PurgeInstanceAsync(instanceId, cancellation: cancellationToken);
        }
        catch (InvalidOperationException ex)
        {
            // Restarted in between.
            return TypedResults.Json(ex.Message, Json, statusCode: StatusCodes.Status412PreconditionFailed);
        }

        if (purged.PurgedInstanceCount == 0)
        {
            // Purged by someone else in between.
            return NotFound(instanceId, taskHub);
        }

        logger.ManagementOperation("purge", instanceId, $"{purged.PurgedInstanceCount} instance(s) deleted");
        return TypedResults.Json(new PurgeHistoryResult(purged.PurgedInstanceCount), Json);
    }

    private static async Task<IResult?> EndedOrUnknownAsync(string instanceId, string taskHub, DurableTaskClient client, CancellationToken cancellationToken) =>
        await client.GetInstanceAsync(instanceId, cancellationToken) switch
        {
            null => NotFound(instanceId, taskHub),
            { IsCompleted: true } ended => TypedResults.Problem(
                $"The instance '{instanceId}' has ended ({ended.RuntimeStatus}).", statusCode: StatusCodes.Status410Gone),
            _ => null,
        };

    private static IResult? OtherTaskHub(IQueryCollection query, string taskHub) =>
        (query["taskHub"].FirstOrDefault(), query["connection"].FirstOrDefault()) switch
        {
            ({ Length: > 0 } hub, _) when !hub.Equals(taskHub, StringComparison.OrdinalIgnoreCase) =>
                Error(StatusCodes.Status400BadRequest, $"This host serves the task hub '{taskHub}' only, not '{hub}'."),
            (_, { Length: > 0 } connection) when !OwnConnections.Contains(connection, StringComparer.OrdinalIgnoreCase) =>
                Error(StatusCodes.Status400BadRequest, $"This host's task hub is on the connection AzureWebJobsStorage only, not '{connection}'."),
            _ => null,
        };

    private static IResult NotFound(string instanceId, string taskHub) =>
        TypedResults.Problem($"There is no instance '{instanceId}' in the task hub '{taskHub}'.", statusCode: StatusCodes.Status404NotFound);

    private static IResult Error(int status, string message) => TypedResults.Json(new ErrorMessage(message), Json, statusCode: status);

    // As the Functions host reads its flags: true or false, anything else is as if absent.
    private static bool? Flag(IQueryCollection query, string name) => bool.TryParse(query[name], out var value) ? value : null;

    private static DateTimeOffset? Time(StringValues value) =>
        DateTimeOffset.TryParse(value, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var time) ? time : null;

    // A list, comma-separated or repeated; names that are no status are left out, as the Functions host does.
    private static List<OrchestrationRuntimeStatus>? Statuses(StringValues values) =>
        values.SelectMany(v => (v ?? string.Empty).Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
            .Select(v => Enum.TryParse<OrchestrationRuntimeStatus>(v, ignoreCase: true, out var status) && Enum.IsDefined(status) ? status : (OrchestrationRuntimeStatus?)null)
            .OfType<OrchestrationRuntimeStatus>()
            .ToList() is { Count: > 0 } statuses ? statuses : null;

    private static ILogger Logger(ILoggerFactory loggers) => loggers.CreateLogger("Serverless.LocalHost.Management");

    /// <summary>The Functions host's error body (ASP.NET's <c>HttpError</c>).</summary>
    private sealed record ErrorMessage(
        [property: JsonPropertyName("Message")] string Message,
        [property: JsonPropertyName("ExceptionMessage"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? ExceptionMessage = null);

    /// <summary>The Functions host's purge answer.</summary>
    private sealed record PurgeHistoryResult(int InstancesDeleted);
}
