using System.Text.Json.Nodes;
using DurableTask.Core;
using DurableTask.Core.History;
using Serverless.LocalHost.Durable;

namespace Serverless.LocalHost.Management;

/// <summary>
/// An instance's <c>historyEvents</c> as the Functions host shows them (<c>showHistory=true</c>): the backend's history events
/// with their type and status by name; each activity or sub-orchestration as one entry, its completion (or failure) carrying
/// the name it was scheduled with, its <c>ScheduledTime</c> and its input; no episode markers (orchestrator started and
/// completed), event ids or replay flags; outputs (<c>Result</c>) only with <c>showHistoryOutput=true</c>, inputs unless
/// <c>showInput=false</c>.
/// </summary>
internal static class HistoryView
{
    public static JsonArray From(IEnumerable<HistoryEvent> events, bool showHistoryOutput, bool showInput)
    {
        ArgumentNullException.ThrowIfNull(events);

        // The backend's own dump of the events, which is what the Functions host starts from.
        var items = JsonNode.Parse(HistoryEvents.Write(events))!.AsArray();
        var scheduled = new Dictionary<string, Scheduled>(StringComparer.Ordinal);
        var folded = new List<int>();
        for (var i = 0; i < items.Count; i++)
        {
            if (items[i] is not JsonObject item || item["EventType"] is not JsonValue number || !number.TryGetValue<int>(out var code))
            {
                continue;
            }

            var type = (EventType)code;
            item["EventType"] = type.ToString();
            switch (type)
            {
                case EventType.TaskScheduled:
                case EventType.SubOrchestrationInstanceCreated:
                    scheduled[Key(type, item["EventId"])] = new(i, Copy(item["Name"]), Copy(item["Timestamp"]), Copy(item["Input"]));
                    item.Remove("Version");
                    break;
                case EventType.TaskCompleted:
                case EventType.TaskFailed:
                    Fold(item, EventType.TaskScheduled, type == EventType.TaskCompleted);
                    break;
                case EventType.SubOrchestrationInstanceCompleted:
                case EventType.SubOrchestrationInstanceFailed:
                    Fold(item, EventType.SubOrchestrationInstanceCreated, type == EventType.SubOrchestrationInstanceCompleted);
                    break;
                case EventType.ExecutionStarted:
                    item["FunctionName"] = Copy(item["Name"]);
                    item.Remove("Name");
                    item.Remove("OrchestrationInstance");
                    item.Remove("ParentInstance");
                    item.Remove("Version");
                    item.Remove("Tags");
                    break;
                case EventType.ExecutionCompleted:
                    if (item["OrchestrationStatus"] is JsonValue status && status.TryGetValue<int>(out var value))
                    {
                        item["OrchestrationStatus"] = ((OrchestrationStatus)value).ToString();
                    }

                    Result(item, shown: showHistoryOutput);
                    break;
                case EventType.TimerFired:
                    item.Remove("TimerId");
                    break;
                case EventType.OrchestratorStarted:
                case EventType.OrchestratorCompleted:
                    folded.Add(i);
                    break;
                default:
                    break;
            }

            if (!showInput)
            {
                item.Remove("Input");
            }

            item.Remove("EventId");
            item.Remove("IsPlayed");
        }

        foreach (var index in folded.Distinct().OrderDescending())
        {
            items.RemoveAt(index);
        }

        return items;

        // A completion takes its scheduling's name, time and input, and the scheduling entry goes.
        void Fold(JsonObject item, EventType scheduling, bool hasResult)
        {
            if (scheduled.TryGetValue(Key(scheduling, item["TaskScheduledId"]), out var origin))
            {
                item["ScheduledTime"] = Copy(origin.Timestamp);
                item["FunctionName"] = Copy(origin.Name);
                if (showInput)
                {
                    item["Input"] = Copy(origin.Input);
                }

                folded.Add(origin.Index);
            }

            item.Remove("TaskScheduledId");
            if (hasResult)
            {
                Result(item, shown: showHistoryOutput);
            }
        }
    }

    /// <summary>An output shown as a JSON value, or left out.</summary>
    private static void Result(JsonObject item, bool shown)
    {
        if (!shown)
        {
            item.Remove("Result");
        }
        else if (item["Result"] is JsonValue result && result.TryGetValue<string>(out var serialized))
        {
            item["Result"] = InstanceStatus.Value(serialized);
        }
    }

    private static string Key(EventType type, JsonNode? eventId) => $"{type}_{eventId?.ToJsonString()}";

    private static JsonNode? Copy(JsonNode? node) => node?.DeepClone();

    private sealed record Scheduled(int Index, JsonNode? Name, JsonNode? Timestamp, JsonNode? Input);
}
