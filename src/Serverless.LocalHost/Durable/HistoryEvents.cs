using System.Collections.Frozen;
using System.Runtime.CompilerServices;
using DurableTask.Core.History;
using Newtonsoft.Json;
using Newtonsoft.Json.Linq;

namespace Serverless.LocalHost.Durable;

/// <summary>
/// An orchestration's history in the form the Azure Storage backend dumps it
/// (<c>IOrchestrationServiceClient.GetOrchestrationHistoryAsync</c>: a JSON array of DurableTask.Core's history events, written
/// by Newtonsoft with its defaults, the event type as a number and no type names), read back into those events, and written
/// again the same way (what the Functions host turns into an instance's <c>historyEvents</c>).
/// </summary>
/// <remarks>
/// Read as the backend reads its own rows: each event created uninitialized for the type its <c>EventType</c> names, then
/// populated from its properties. Several event types have more than one public constructor, so no constructor can be chosen
/// for them; writing what was read gives the backend's dump back unchanged.
/// </remarks>
internal static class HistoryEvents
{
    // The backend's own serializer settings: Newtonsoft's defaults, whatever JsonConvert.DefaultSettings says.
    private static readonly JsonSerializer Serializer = JsonSerializer.Create();

    private static readonly FrozenDictionary<EventType, Type> Types = typeof(HistoryEvent).Assembly.GetTypes()
        .Where(t => typeof(HistoryEvent).IsAssignableFrom(t) && !t.IsAbstract)
        .ToFrozenDictionary(t => ((HistoryEvent)RuntimeHelpers.GetUninitializedObject(t)).EventType);

    /// <summary>The events of the backend's dump <paramref name="json"/>, in its order.</summary>
    /// <exception cref="InvalidDataException">The dump is not an array of events, or names an event type this version does not know.</exception>
    public static IList<HistoryEvent> Read(string json)
    {
        ArgumentNullException.ThrowIfNull(json);
        JArray events;
        try
        {
            events = JArray.Parse(json);
        }
        catch (JsonReaderException ex)
        {
            throw new InvalidDataException("The backend's history is not a JSON array.", ex);
        }

        var read = new List<HistoryEvent>(events.Count);
        foreach (var item in events)
        {
            if (item is not JObject { } @event || @event["EventType"] is not { Type: JTokenType.Integer } type
                || !Types.TryGetValue((EventType)type.Value<int>(), out var clrType))
            {
                throw new InvalidDataException($"The backend's history holds an event this host cannot read: {item.ToString(Formatting.None)}");
            }

            var created = (HistoryEvent)RuntimeHelpers.GetUninitializedObject(clrType);
            using var reader = @event.CreateReader();
            Serializer.Populate(reader, created);
            read.Add(created);
        }

        return read;
    }

    /// <summary>The backend's dump of <paramref name="events"/>.</summary>
    public static string Write(IEnumerable<HistoryEvent> events)
    {
        ArgumentNullException.ThrowIfNull(events);
        using var writer = new StringWriter(System.Globalization.CultureInfo.InvariantCulture);
        Serializer.Serialize(writer, events.ToList());
        return writer.ToString();
    }
}
