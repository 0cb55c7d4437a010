using System.Text.Json;
using System.Text.Json.Nodes;

namespace Serverless.Functions.CustomHandler;

/// <summary>
/// Writes what the Azure Functions host needs to run this app as a custom handler: <c>host.json</c> with
/// <c>customHandler</c>, and one <c>{FunctionName}/function.json</c> per function of <see cref="FunctionCatalog"/>.
/// </summary>
public static class CustomHandlerLayout
{
    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    /// <summary>The executable the host starts (the apphost next to Serverless.Functions.dll).</summary>
    public const string Executable = "Serverless.Functions";

    /// <summary>Writes the layout for the participants the app's settings name (<c>TRANSACTIONS_PARTICIPANTS</c>, default all samples).</summary>
    public static void Write(string directory, string[] args)
    {
        var configuration = new ConfigurationBuilder().AddEnvironmentVariables().AddCommandLine(args).Build();
        var settings = Hosting.TransactionsSettings.From(configuration);
        var participants = settings.Participants.Where(Hosting.TransactionsSettings.SampleParticipants.Contains).ToList();
        var hostJson = Path.Combine(directory, "host.json");
        Write(directory, FunctionCatalog.For(participants, new Runtime.Storage.StorageNames(settings.StoragePrefix)), hostJson);
    }

    public static void Write(string directory, IReadOnlyList<FunctionDefinition> functions, string sourceHostJson)
    {
        ArgumentNullException.ThrowIfNull(functions);
        Directory.CreateDirectory(directory);
        var host = JsonNode.Parse(File.ReadAllText(sourceHostJson), documentOptions: new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip })!.AsObject();
        host["customHandler"] = new JsonObject
        {
            ["description"] = new JsonObject
            {
                ["defaultExecutablePath"] = Executable,
                ["workingDirectory"] = string.Empty,
                ["arguments"] = new JsonArray(),
            },
            ["enableForwardingHttpRequest"] = true,
        };
        host["extensionBundle"] = new JsonObject
        {
            ["id"] = "Microsoft.Azure.Functions.ExtensionBundle",
            ["version"] = "[4.*, 5.0.0)",
        };
        File.WriteAllText(Path.Combine(directory, "host.json"), host.ToJsonString(Indented));

        foreach (var stale in Directory.EnumerateFiles(directory, "function.json", SearchOption.AllDirectories))
        {
            File.Delete(stale);
        }

        foreach (var function in functions)
        {
            var folder = Path.Combine(directory, function.Name);
            Directory.CreateDirectory(folder);
            File.WriteAllText(Path.Combine(folder, "function.json"), function.ToFunctionJson().ToJsonString(Indented));
        }
    }
}
