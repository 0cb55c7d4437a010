using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using Microsoft.DurableTask.Client;

namespace Serverless.LocalHost.Management;

/// <summary>
/// An instance's status document as the Functions host's Durable management API answers it (its <c>StatusResponsePayload</c>):
/// the serialized input, custom status and output as JSON values, times in ISO 8601 to the second, and the history only when
/// asked for.
/// </summary>
/// <param name="Name">The orchestrator's name.</param>
/// <param name="InstanceId">The instance id.</param>
/// <param name="RuntimeStatus">Running, Pending, Completed, Failed, Terminated, Suspended, …</param>
/// <param name="Input">The input; null when not asked for (<c>showInput=false</c>).</param>
/// <param name="CustomStatus">The custom status; null when the orchestration set none.</param>
/// <param name="Output">The output (a terminated instance's: the reason given); null while running.</param>
/// <param name="CreatedTime">When the instance was created, <c>yyyy-MM-ddTHH:mm:ssZ</c>.</param>
/// <param name="LastUpdatedTime">When the instance last persisted, same form.</param>
/// <param name="HistoryEvents">The history (<see cref="HistoryView"/>), present only with <c>showHistory=true</c>.</param>
internal sealed record InstanceStatus(
    string Name,
    string InstanceId,
    string RuntimeStatus,
    JsonNode? Input,
    JsonNode? CustomStatus,
    JsonNode? Output,
    string CreatedTime,
    string LastUpdatedTime,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] JsonArray? HistoryEvents = null)
{
    /// <summary>The document of <paramref name="instance"/>, read with its inputs and outputs.</summary>
    public static InstanceStatus From(OrchestrationMetadata instance, bool showInput, JsonArray? history = null)
    {
        ArgumentNullException.ThrowIfNull(instance);
        return new(
            instance.Name,
            instance.InstanceId,
            instance.RuntimeStatus.ToString(),
            showInput ? Value(instance.SerializedInput) : null,
            Value(instance.SerializedCustomStatus),
            Value(instance.SerializedOutput),
            Time(instance.CreatedAt),
            Time(instance.LastUpdatedAt),
            history);
    }

    /// <summary>
    /// A serialized value as JSON: null stays null, blank is the empty string, and text that is not JSON is kept as a string
    /// (what a termination reason given as plain text is), as the Functions host reads them.
    /// </summary>
    public static JsonNode? Value(string? serialized)
    {
        if (serialized is null)
        {
            return null;
        }

        var trimmed = serialized.Trim();
        if (trimmed.Length == 0)
        {
            return JsonValue.Create(string.Empty);
        }

        try
        {
            return JsonNode.Parse(trimmed);
        }
        catch (JsonException)
        {
            return JsonValue.Create(trimmed);
        }
    }

    private static string Time(DateTimeOffset time) => time.UtcDateTime.ToString("s", CultureInfo.InvariantCulture) + "Z";
}
