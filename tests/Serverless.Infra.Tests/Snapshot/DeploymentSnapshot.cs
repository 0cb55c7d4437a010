using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Serverless.Infra.Tests.Arm;

namespace Serverless.Infra.Tests.Snapshot;

/// <summary>The resources one evaluated deployment would create, every module's flattened into one list.</summary>
public sealed class DeploymentSnapshot
{
    public const string RoleAssignmentType = "Microsoft.Authorization/roleAssignments";
    public const string IdentityType = "Microsoft.ManagedIdentity/userAssignedIdentities";
    public const string SiteType = "Microsoft.Web/sites";

    public DeploymentSnapshot(string json)
    {
        Text = json;
        var root = JsonNode.Parse(json)?.AsObject() ?? throw new ArgumentException("Not a JSON object.", nameof(json));
        Resources = [.. (root["predictedResources"]?.AsArray() ?? []).OfType<JsonObject>().Select(r => new PredictedResource(r))];
    }

    /// <summary>The snapshot as written, for searches over everything in it.</summary>
    public string Text { get; }

    public IReadOnlyList<PredictedResource> Resources { get; }

    public IEnumerable<PredictedResource> OfType(string type) =>
        Resources.Where(r => string.Equals(r.Type, type, StringComparison.OrdinalIgnoreCase));

    /// <summary>The one resource of a type whose name (the last segment of a child's) is <paramref name="name"/>.</summary>
    public PredictedResource Named(string type, string name)
    {
        var found = OfType(type).Where(r => r.Name.Split('/')[^1] == name).ToList();
        return found.Count == 1
            ? found[0]
            : throw new InvalidOperationException($"Expected one {type} named {name}, found {found.Count}; there are: {string.Join(", ", OfType(type).Select(r => r.Name))}.");
    }

    public IEnumerable<RoleAssignment> RoleAssignments => OfType(RoleAssignmentType).Select(r => new RoleAssignment(r));
}

/// <summary>One resource the deployment would create.</summary>
public sealed partial record PredictedResource(JsonObject Json)
{
    /// <summary>The resource id: a literal, or for an extension resource (a role assignment) an expression that names its scope.</summary>
    public string Id => ArmScope.AsString(Json["id"]) ?? string.Empty;

    public string Type => ArmScope.AsString(Json["type"]) ?? string.Empty;

    public string Name => ArmScope.AsString(Json["name"]) ?? string.Empty;

    public JsonNode? Properties => Json["properties"];

    /// <summary>A node of <c>properties</c> by path, e.g. <c>functionAppConfig.runtime.name</c>.</summary>
    public JsonNode? Property(string path) => path.Split('.').Aggregate(Properties, (node, key) => node?[key]);

    /// <summary>The app settings of a site, name to value (a literal, or an expression the deployment evaluates).</summary>
    public IReadOnlyDictionary<string, string> AppSettings =>
        (Property("siteConfig.appSettings") as JsonArray ?? throw new InvalidOperationException($"{Name} has no literal siteConfig.appSettings."))
        .OfType<JsonObject>()
        .ToDictionary(s => ArmScope.AsString(s["name"]) ?? string.Empty, s => ArmScope.AsString(s["value"]) ?? s["value"]?.ToJsonString() ?? string.Empty, StringComparer.Ordinal);

    /// <summary>
    /// The id of the resource an expression reads with <c>reference('id', …)</c>: which identity a principal or client
    /// id belongs to, which secret a Key Vault reference's URI is of.
    /// </summary>
    public static string? ReferencedResourceId(string? expression) =>
        expression is not null && Reference().Match(expression) is { Success: true } m ? m.Groups[1].Value : null;

    [GeneratedRegex(@"reference\('([^']+)'")]
    private static partial Regex Reference();
}

/// <summary>A role assignment of the snapshot: where, what role, to whom.</summary>
public sealed partial record RoleAssignment(PredictedResource Resource)
{
    /// <summary>The resource the assignment is scoped to (the first argument of the <c>extensionResourceId</c> its id is).</summary>
    public string Scope => ExtensionScope().Match(Resource.Id) is { Success: true } m
        ? m.Groups[1].Value
        : throw new InvalidOperationException($"Role assignment id '{Resource.Id}' names no scope.");

    /// <summary>The role definition's GUID.</summary>
    public string RoleId => (ArmScope.AsString(Resource.Property("roleDefinitionId")) ?? string.Empty).Split('/')[^1];

    /// <summary>The id of the identity whose principal id the assignment names.</summary>
    public string? PrincipalIdentityId => PredictedResource.ReferencedResourceId(ArmScope.AsString(Resource.Property("principalId")));

    public string? PrincipalType => ArmScope.AsString(Resource.Property("principalType"));

    public override string ToString() => $"{RoleId} on {Scope} to {PrincipalIdentityId}";

    [GeneratedRegex(@"^\[extensionResourceId\('([^']+)'")]
    private static partial Regex ExtensionScope();
}
