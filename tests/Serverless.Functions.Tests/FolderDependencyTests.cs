using System.Text.RegularExpressions;
using Serverless.Testing;

namespace Serverless.Functions.Tests;

/// <summary>
/// The app's folders depend on each other in one direction only, read from their sources' <c>using</c> directives: the
/// settings, storage and fault points are leaves; messaging and HTTP helpers above them; the participants, then the
/// coordination (orchestration, decision records, in-doubt resolution), then the API and retention, and the hosting
/// (registration, health) on top. A cycle means a job is in the wrong folder.
/// </summary>
public sealed partial class FolderDependencyTests
{
    private static readonly string AppRoot = Path.Combine(RepositoryRoot.Find(), "src", "Serverless.Functions");

    [Fact]
    public void NoFolderOfTheApp_DependsOnAFolderThatDependsOnIt()
    {
        var graph = Dependencies();
        List<string> cycles = [];
        foreach (var (folder, uses) in graph)
        {
            foreach (var used in uses)
            {
                if (Reaches(graph, used, folder, []))
                {
                    cycles.Add($"{folder} -> {used} -> … -> {folder}");
                }
            }
        }

        Assert.True(graph.Count >= 8, $"expected the app's folders, found: {string.Join(", ", graph.Keys)}");
        Assert.Empty(cycles);
    }

    [Theory]
    [InlineData("Settings")]
    [InlineData("Storage")]
    [InlineData("Faults")]
    public void TheLeaves_UseNoOtherFolderOfTheApp(string leaf) => Assert.Empty(Dependencies()[leaf]);

    /// <summary>Each top folder of the app with the app's folders its sources name in a <c>using</c>.</summary>
    private static Dictionary<string, HashSet<string>> Dependencies()
    {
        Dictionary<string, HashSet<string>> graph = new(StringComparer.Ordinal);
        foreach (var directory in Directory.EnumerateDirectories(AppRoot).Where(d => Path.GetFileName(d) is not ("bin" or "obj")))
        {
            var folder = Path.GetFileName(directory);
            graph[folder] = [.. Directory.EnumerateFiles(directory, "*.cs", SearchOption.AllDirectories)
                .SelectMany(f => AppUsing().Matches(File.ReadAllText(f)).Select(m => m.Groups[1].Value))
                .Where(used => used != folder)];
        }

        return graph;
    }

    private static bool Reaches(Dictionary<string, HashSet<string>> graph, string from, string to, HashSet<string> seen) =>
        from == to || (seen.Add(from) && graph.GetValueOrDefault(from, []).Any(next => Reaches(graph, next, to, seen)));

    [GeneratedRegex(@"^using Serverless\.Functions\.(\w+)", RegexOptions.Multiline)]
    private static partial Regex AppUsing();
}
