using System.Globalization;
using System.Text.Json;
using Microsoft.Extensions.Configuration.Memory;

namespace Serverless.LocalHost.Configuration;

/// <summary>
/// Reads a Functions app's two files the way the Functions host does: <c>local.settings.json</c> (<c>Values</c> become
/// settings, below environment variables; <c>Host.LocalHttpPort</c>) and <c>host.json</c>, whose values appear under
/// <c>AzureFunctionsJobHost</c> so that a setting <c>AzureFunctionsJobHost__extensions__…</c> overrides them.
/// </summary>
public static class FunctionsConfiguration
{
    /// <summary>The configuration section that holds host.json.</summary>
    public const string HostSection = "AzureFunctionsJobHost";

    private static readonly JsonDocumentOptions Lenient = new() { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true };

    /// <summary>
    /// The app's folder (host.json, local.settings.json): <c>FUNCTIONS_APP_ROOT</c>, else the current directory when it
    /// holds a host.json, else this host's own folder (the build copies the app's host.json there).
    /// </summary>
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

    /// <summary>Adds host.json and local.settings.json below every other source, so that the environment and arguments win.</summary>
    public static void AddFunctionsFiles(IConfigurationBuilder builder, string appRoot)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var values = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
        var hostJson = Path.Combine(appRoot, "host.json");
        if (!File.Exists(hostJson))
        {
            throw new InvalidOperationException($"No host.json in {appRoot}: set FUNCTIONS_APP_ROOT to the Functions app's folder.");
        }

        using (var host = JsonDocument.Parse(File.ReadAllText(hostJson), Lenient))
        {
            Flatten(host.RootElement, HostSection, values);
        }

        var localSettings = Path.Combine(appRoot, "local.settings.json");
        if (File.Exists(localSettings))
        {
            using var document = JsonDocument.Parse(File.ReadAllText(localSettings), Lenient);
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

            if (document.RootElement.TryGetProperty("Host", out var hostSettings) && hostSettings.TryGetProperty("LocalHttpPort", out var port))
            {
                values["Host:LocalHttpPort"] = port.GetRawText();
            }
        }

        builder.Sources.Insert(0, new MemoryConfigurationSource { InitialData = values });
    }

    /// <summary>A time span as Functions writes it in host.json: "hh:mm:ss", or a number of milliseconds.</summary>
    public static TimeSpan? Span(IConfiguration section, string key)
    {
        ArgumentNullException.ThrowIfNull(section);
        var text = section[key];
        if (string.IsNullOrWhiteSpace(text))
        {
            return null;
        }

        // A plain number is milliseconds (Functions' reading of maxPollingInterval), not days as TimeSpan would have it.
        if (double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var ms))
        {
            return TimeSpan.FromMilliseconds(ms);
        }

        return TimeSpan.TryParse(text, CultureInfo.InvariantCulture, out var span)
            ? span
            : throw new InvalidOperationException($"{PathOf(section)}{key} is not a time span: '{text}'");
    }

    /// <summary>A whole number setting, or null when absent.</summary>
    public static int? Whole(IConfiguration section, string key)
    {
        ArgumentNullException.ThrowIfNull(section);
        var text = section[key];
        if (string.IsNullOrWhiteSpace(text))
        {
            return null;
        }

        return int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value)
            ? value
            : throw new InvalidOperationException($"{PathOf(section)}{key} is not a whole number: '{text}'");
    }

    /// <summary>A true/false setting, or null when absent.</summary>
    public static bool? Flag(IConfiguration section, string key)
    {
        ArgumentNullException.ThrowIfNull(section);
        var text = section[key];
        return string.IsNullOrWhiteSpace(text) ? null
            : bool.TryParse(text, out var value) ? value
            : throw new InvalidOperationException($"{PathOf(section)}{key} is not true or false: '{text}'");
    }

    private static string PathOf(IConfiguration section) => section is IConfigurationSection s ? s.Path + ":" : string.Empty;

    private static void Flatten(JsonElement element, string path, Dictionary<string, string?> values)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.Object:
                foreach (var property in element.EnumerateObject())
                {
                    Flatten(property.Value, $"{path}:{property.Name}", values);
                }

                break;
            case JsonValueKind.Array:
                var i = 0;
                foreach (var item in element.EnumerateArray())
                {
                    Flatten(item, $"{path}:{i++}", values);
                }

                break;
            case JsonValueKind.String:
                values[path] = element.GetString();
                break;
            case JsonValueKind.Null:
                values[path] = null;
                break;
            default:
                values[path] = element.GetRawText();
                break;
        }
    }
}
