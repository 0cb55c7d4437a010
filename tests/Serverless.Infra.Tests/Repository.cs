using System.Reflection;
using System.Text.Json.Nodes;
using System.Xml.Linq;

namespace Serverless.Infra.Tests;

/// <summary>Paths and files of the repository the tests check.</summary>
public static class Repository
{
    public static string Root { get; } = Locate();

    public static string MainBicep => Path.Combine(Root, "infra", "main.bicep");

    /// <summary>Names and values of <c>Values</c> in local.settings.sample.json: the settings the app reads.</summary>
    public static IReadOnlyDictionary<string, string> SampleSettingValues()
    {
        var path = Path.Combine(Root, "local.settings.sample.json");
        var values = JsonNode.Parse(File.ReadAllText(path))?["Values"] as JsonObject
            ?? throw new InvalidOperationException($"{path} has no Values object.");
        return values.ToDictionary(p => p.Key, p => p.Value?.ToString() ?? string.Empty, StringComparer.Ordinal);
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
