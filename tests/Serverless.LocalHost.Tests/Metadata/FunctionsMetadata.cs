using System.Text.Json;
using System.Text.Json.Serialization;

namespace Serverless.LocalHost.Tests.Metadata;

/// <summary>One binding of a function in the Worker SDK's <c>functions.metadata</c>.</summary>
public sealed record MetadataBinding(
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("type")] string Type,
    [property: JsonPropertyName("direction")] string Direction,
    [property: JsonPropertyName("route")] string? Route,
    [property: JsonPropertyName("methods")] IReadOnlyList<string>? Methods,
    [property: JsonPropertyName("authLevel")] string? AuthLevel,
    [property: JsonPropertyName("queueName")] string? QueueName,
    [property: JsonPropertyName("connection")] string? Connection,
    [property: JsonPropertyName("schedule")] string? Schedule);

/// <summary>One function in the Worker SDK's <c>functions.metadata</c>: what the Functions host would serve on Azure.</summary>
public sealed record MetadataFunction(
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("entryPoint")] string EntryPoint,
    [property: JsonPropertyName("bindings")] IReadOnlyList<MetadataBinding> Bindings)
{
    /// <summary>The function's one trigger binding (its type ends in "Trigger").</summary>
    public MetadataBinding Trigger => Bindings.Single(b => b.Type.EndsWith("Trigger", StringComparison.Ordinal));
}

/// <summary>Reads the <c>functions.metadata</c> the Worker SDK wrote for src/Serverless.Functions.</summary>
public static class FunctionsMetadata
{
    public const string FileName = "functions.metadata";

    /// <summary>
    /// This assembly's output folder (the build copies the app's file into referencing projects), else the app's own build
    /// output for the configuration this test assembly was built in.
    /// </summary>
    public static string Find()
    {
        var candidates = new List<string> { Path.Combine(AppContext.BaseDirectory, FileName) };
        var root = Serverless.Testing.RepositoryRoot.Find();
        foreach (var configuration in new[] { Configuration, "Debug", "Release" }.Distinct(StringComparer.Ordinal))
        {
            candidates.Add(Path.Combine(root, "src", "Serverless.Functions", "bin", configuration, "net10.0", FileName));
        }

        return candidates.FirstOrDefault(File.Exists)
            ?? throw new FileNotFoundException($"No {FileName} in any of: {string.Join(", ", candidates)}. Build src/Serverless.Functions first.");
    }

    public static IReadOnlyList<MetadataFunction> Load() =>
        JsonSerializer.Deserialize<List<MetadataFunction>>(File.ReadAllText(Find()))
        ?? throw new InvalidDataException($"{FileName} is empty.");

    /// <summary>"Debug" or "Release": the folder name two levels above this assembly (bin/{Configuration}/net10.0).</summary>
    private static string Configuration =>
        new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar)).Parent?.Name ?? "Debug";
}
