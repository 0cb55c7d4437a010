using System.Globalization;
using System.Text.Json;
using Microsoft.Extensions.Configuration;
using Serverless.Runtime.Messaging;

namespace Serverless.Functions.Hosting;

/// <summary>
/// Reads the two files of a Functions app the way the Functions host does: <c>local.settings.json</c>
/// (<c>Values</c> become settings, environment variables win; <c>Host.LocalHttpPort</c>) and <c>host.json</c>
/// (<c>extensions.queues</c>).
/// </summary>
public static class FunctionsConfiguration
{
    /// <summary>The folder holding host.json: <c>FUNCTIONS_APP_ROOT</c>, else the current directory, else the app's own.</summary>
    public static string FindAppRoot()
    {
        var configured = Environment.GetEnvironmentVariable("FUNCTIONS_APP_ROOT");
        if (!string.IsNullOrWhiteSpace(configured))
        {
            return configured;
        }

        var current = Directory.GetCurrentDirectory();
        return File.Exists(Path.Combine(current, "host.json")) ? current : AppContext.BaseDirectory;
    }

    /// <summary>Adds local.settings.json <c>Values</c> (and <c>Host:LocalHttpPort</c>) below the environment's precedence.</summary>
    public static void AddLocalSettings(IConfigurationBuilder builder, string appRoot)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var path = Path.Combine(appRoot, "local.settings.json");
        if (!File.Exists(path))
        {
            return;
        }

        using var document = JsonDocument.Parse(File.ReadAllText(path), new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
        var values = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
        if (document.RootElement.TryGetProperty("Values", out var settings) && settings.ValueKind == JsonValueKind.Object)
        {
            foreach (var property in settings.EnumerateObject())
            {
                // Functions maps "A__b" to the section path "A:b".
                values[property.Name.Replace("__", ":", StringComparison.Ordinal)] = property.Value.ValueKind == JsonValueKind.String
                    ? property.Value.GetString()
                    : property.Value.GetRawText();
            }
        }

        if (document.RootElement.TryGetProperty("Host", out var host) && host.TryGetProperty("LocalHttpPort", out var port))
        {
            values["Host:LocalHttpPort"] = port.GetRawText();
        }

        // Inserted first so that environment variables and command-line arguments override it.
        builder.Sources.Insert(0, new Microsoft.Extensions.Configuration.Memory.MemoryConfigurationSource { InitialData = values });
    }

    /// <summary>Reads <c>extensions.queues</c> from host.json; defaults where absent.</summary>
    public static QueueListenerOptions ReadQueueOptions(string appRoot)
    {
        var path = Path.Combine(appRoot, "host.json");
        var options = new QueueListenerOptions();
        if (!File.Exists(path))
        {
            return options;
        }

        using var document = JsonDocument.Parse(File.ReadAllText(path), new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
        if (!document.RootElement.TryGetProperty("extensions", out var extensions) || !extensions.TryGetProperty("queues", out var queues))
        {
            return options;
        }

        return options with
        {
            BatchSize = Int(queues, "batchSize") ?? options.BatchSize,
            NewBatchThreshold = Int(queues, "newBatchThreshold") ?? options.NewBatchThreshold,
            MaxPollingInterval = Span(queues, "maxPollingInterval") ?? options.MaxPollingInterval,
            VisibilityTimeout = Span(queues, "visibilityTimeout") ?? options.VisibilityTimeout,
            MaxDequeueCount = Int(queues, "maxDequeueCount") ?? options.MaxDequeueCount,
        };
    }

    private static int? Int(JsonElement e, string name) =>
        e.TryGetProperty(name, out var p) && p.ValueKind == JsonValueKind.Number && p.TryGetInt32(out var v) ? v : null;

    private static TimeSpan? Span(JsonElement e, string name)
    {
        if (!e.TryGetProperty(name, out var p))
        {
            return null;
        }

        // Functions accepts "hh:mm:ss" strings, and a number of milliseconds for maxPollingInterval.
        return p.ValueKind switch
        {
            JsonValueKind.String when TimeSpan.TryParse(p.GetString(), CultureInfo.InvariantCulture, out var span) => span,
            JsonValueKind.Number when p.TryGetDouble(out var ms) => TimeSpan.FromMilliseconds(ms),
            _ => throw new InvalidOperationException($"host.json extensions.queues.{name} is not a time span"),
        };
    }
}
