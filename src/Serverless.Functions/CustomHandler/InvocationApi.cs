using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using Serverless.Runtime.Messaging;
using Serverless.Runtime.Storage;

namespace Serverless.Functions.CustomHandler;

/// <summary>
/// The custom-handler side of the Azure Functions host contract for queue triggers: the host POSTs
/// <c>{"Data":{"message":…},"Metadata":{"DequeueCount":…,"Id":…}}</c> to <c>/{FunctionName}</c> and expects
/// <c>{"Outputs":{},"Logs":[…],"ReturnValue":null}</c>. A 200 means the message's effects are done and the host
/// may delete it; any other status is a failure the host retries, and poisons after maxDequeueCount.
/// </summary>
public static class InvocationApi
{
    /// <summary>The response shape the host reads; the names are the contract's PascalCase.</summary>
    public sealed record InvocationResponse(
        [property: JsonPropertyName("Outputs")] IDictionary<string, object?> Outputs,
        [property: JsonPropertyName("Logs")] IReadOnlyList<string> Logs,
        [property: JsonPropertyName("ReturnValue")] object? ReturnValue);

    public static void MapQueueFunctions(this IEndpointRouteBuilder app, IReadOnlyList<(string Function, QueueListener Listener)> listeners)
    {
        ArgumentNullException.ThrowIfNull(listeners);
        foreach (var (function, listener) in listeners)
        {
            app.MapPost($"/{function}", (HttpRequest request, QueueTransport transport, CancellationToken ct) => InvokeAsync(request, listener, transport, ct));
        }
    }

    private static async Task<IResult> InvokeAsync(HttpRequest request, QueueListener listener, QueueTransport transport, CancellationToken cancellationToken)
    {
        string text;
        string id;
        long dequeueCount;
        try
        {
            using var envelope = await JsonDocument.ParseAsync(request.Body, cancellationToken: cancellationToken);
            (text, id, dequeueCount) = ReadEnvelope(envelope.RootElement);
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException or KeyNotFoundException)
        {
            return Results.Json(new InvocationResponse(new Dictionary<string, object?>(), [$"not a Functions invocation: {ex.Message}"], null), statusCode: StatusCodes.Status400BadRequest);
        }

        var (disposition, reason) = await listener.HandleAsync(text, id, dequeueCount, cancellationToken);
        switch (disposition)
        {
            case QueueListener.Disposition.Done:
                return Results.Json(new InvocationResponse(new Dictionary<string, object?>(), [], null));
            case QueueListener.Disposition.Poison:
                // The host would only poison after maxDequeueCount failures; a message that must never be acted on goes now.
                await transport.SendAsync(StorageNames.PoisonQueue(listener.Queue), text, cancellationToken: cancellationToken);
                return Results.Json(new InvocationResponse(new Dictionary<string, object?>(), [$"message {id} moved to {StorageNames.PoisonQueue(listener.Queue)}: {reason}"], null));
            default:
                return Results.Json(new InvocationResponse(new Dictionary<string, object?>(), [$"message {id} failed (delivery {dequeueCount}); the host will retry it"], null),
                    statusCode: StatusCodes.Status500InternalServerError);
        }
    }

    /// <summary>Reads the message text, id and dequeue count from the host's request.</summary>
    public static (string Text, string Id, long DequeueCount) ReadEnvelope(JsonElement root)
    {
        var data = Property(root, "Data") ?? throw new KeyNotFoundException("no Data");
        var message = Property(data, "message") ?? data.EnumerateObject().First().Value;

        // The host passes the decoded queue message as a string; a JSON message may also arrive as JSON.
        var text = message.ValueKind == JsonValueKind.String ? message.GetString()! : message.GetRawText();
        var metadata = Property(root, "Metadata") ?? default;
        return (text, MetadataString(metadata, "Id") ?? "unknown", long.TryParse(MetadataString(metadata, "DequeueCount"), NumberStyles.Integer, CultureInfo.InvariantCulture, out var count) ? count : 1);
    }

    private static string? MetadataString(JsonElement metadata, string name) =>
        Property(metadata, name) is { } value
            ? value.ValueKind == JsonValueKind.String ? value.GetString() : value.GetRawText()
            : null;

    /// <summary>A property by name, ignoring case (the host writes PascalCase; be lenient).</summary>
    private static JsonElement? Property(JsonElement element, string name)
    {
        if (element.ValueKind != JsonValueKind.Object)
        {
            return null;
        }

        foreach (var property in element.EnumerateObject())
        {
            if (string.Equals(property.Name, name, StringComparison.OrdinalIgnoreCase))
            {
                return property.Value;
            }
        }

        return null;
    }
}
