using System.Reflection;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Xml.Linq;

namespace Serverless.Infra.Tests;

/// <summary>Paths and files of the repository the tests check.</summary>
public static class Repository
{
    public static string Root { get; } = Locate();

    public static string MainBicep => Path.Combine(Root, "infra", "main.bicep");

    /// <summary>The Functions app's project folder: its host.json and local.settings.sample.json live there.</summary>
    public static string FunctionsApp => Path.Combine(Root, "src", "Serverless.Functions");

    /// <summary>The shipping app's project folder (an external participant's app, built on the participant kit).</summary>
    public static string ShippingApp => Path.Combine(Root, "src", "Serverless.Shipping");

    /// <summary>Names and values of <c>Values</c> in the coordinator app's local.settings.sample.json: the settings the app reads.</summary>
    public static IReadOnlyDictionary<string, string> SampleSettingValues() => SampleSettingValues(FunctionsApp);

    /// <summary>Names and values of <c>Values</c> in the local.settings.sample.json of the Functions app in <paramref name="appFolder"/>.</summary>
    public static IReadOnlyDictionary<string, string> SampleSettingValues(string appFolder)
    {
        var path = Path.Combine(appFolder, "local.settings.sample.json");
        var values = JsonNode.Parse(File.ReadAllText(path))?["Values"] as JsonObject
            ?? throw new InvalidOperationException($"{path} has no Values object.");
        return values.ToDictionary(p => p.Key, p => p.Value?.ToString() ?? string.Empty, StringComparer.Ordinal);
    }

    /// <summary>The Durable task hub the app's host.json names (<c>extensions.durableTask.hubName</c>).</summary>
    public static string TaskHubName()
    {
        var path = Path.Combine(FunctionsApp, "host.json");
        var options = new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true };
        var hub = JsonNode.Parse(File.ReadAllText(path), documentOptions: options)?["extensions"]?["durableTask"]?["hubName"]?.ToString();
        return string.IsNullOrEmpty(hub) ? throw new InvalidOperationException($"{path} names no extensions.durableTask.hubName.") : hub;
    }

    /// <summary>The target framework Directory.Build.props sets for every project, e.g. <c>net10.0</c>.</summary>
    public static string TargetFramework()
    {
        var path = Path.Combine(Root, "Directory.Build.props");
        return XDocument.Load(path).Descendants("TargetFramework").Select(e => e.Value.Trim()).SingleOrDefault()
            ?? throw new InvalidOperationException($"{path} sets no TargetFramework.");
    }

    /// <summary>The version Directory.Packages.props pins for a package.</summary>
    public static string PinnedVersion(string packageId)
    {
        var path = Path.Combine(Root, "Directory.Packages.props");
        return XDocument.Load(path).Descendants("PackageVersion")
            .Where(e => string.Equals((string?)e.Attribute("Include"), packageId, StringComparison.OrdinalIgnoreCase))
            .Select(e => (string?)e.Attribute("Version"))
            .SingleOrDefault() ?? throw new InvalidOperationException($"{path} pins no version of {packageId}.");
    }

    // The build writes the repository's path into the assembly; walking up from the output folder is the fallback
    // for a test assembly that was copied elsewhere.
    private static string Locate()
    {
        var fromBuild = typeof(Repository).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
            .FirstOrDefault(a => a.Key == "RepositoryRoot")?.Value;
        if (!string.IsNullOrEmpty(fromBuild) && IsRoot(fromBuild))
        {
            return Path.GetFullPath(fromBuild);
        }

        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (IsRoot(dir.FullName))
            {
                return dir.FullName;
            }
        }

        throw new DirectoryNotFoundException(
            $"Cannot find the repository (a folder with infra/main.bicep) from '{fromBuild}' or above '{AppContext.BaseDirectory}'.");
    }

    private static bool IsRoot(string dir) =>
        File.Exists(Path.Combine(dir, "infra", "main.bicep")) && File.Exists(Path.Combine(dir, "Directory.Packages.props"));
}
