using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace Serverless.Infra.Tests.Arm;

/// <summary>
/// A compiled ARM template, with the resources of every nested module deployment flattened into one list.
/// Handles both resource layouts Bicep emits: an array, and (languageVersion 2.0) an object keyed by symbolic name.
/// </summary>
public sealed class ArmTemplate
{
    public const string DeploymentType = "Microsoft.Resources/deployments";

    public ArmTemplate(string json)
    {
        Text = json;
        Root = new ArmScope(JsonNode.Parse(json)?.AsObject() ?? throw new ArgumentException("Not a JSON object.", nameof(json)), null, null);
        Resources = [.. Collect(Root)];
    }

    /// <summary>The template as compiled, for searches over everything in it.</summary>
    public string Text { get; }

    public ArmScope Root { get; }

    public IReadOnlyList<ArmResource> Resources { get; }

    public IEnumerable<ArmResource> OfType(string type) =>
        Resources.Where(r => string.Equals(r.Type, type, StringComparison.OrdinalIgnoreCase));

    private static IEnumerable<ArmResource> Collect(ArmScope scope)
    {
        var entries = scope.Template["resources"] switch
        {
            JsonArray array => array.Select(r => (Name: (string?)null, Json: r as JsonObject)),
            JsonObject map => map.Select(p => (Name: (string?)p.Key, Json: p.Value as JsonObject)),
            _ => [],
        };
        foreach (var (name, json) in entries)
        {
            if (json is null)
            {
                continue;
            }

            var resource = new ArmResource(name, json, scope);
            yield return resource;
            if (resource.Type == DeploymentType && json["properties"]?["template"] is JsonObject inner)
            {
                foreach (var nested in Collect(new ArmScope(inner, scope, json)))
                {
                    yield return nested;
                }
            }
        }
    }
}

/// <summary>One template: the root, or the inline template of a module deployment inside <paramref name="Parent"/>.</summary>
public sealed partial record ArmScope(JsonObject Template, ArmScope? Parent, JsonObject? Deployment)
{
    public string Text => Template.ToJsonString();

    public JsonObject? Parameter(string name) => Template["parameters"]?[name] as JsonObject;

    /// <summary>The names (literals or expressions) of the module deployments this template is nested in, innermost first.</summary>
    public IEnumerable<string> DeploymentNames
    {
        get
        {
            for (var scope = this; scope?.Deployment is { } deployment; scope = scope.Parent)
            {
                yield return AsString(deployment["name"]) ?? string.Empty;
            }
        }
    }

    public JsonNode? Variable(string name) => Template["variables"]?[name];

    /// <summary>The expression the enclosing module deployment passes for one of this template's parameters.</summary>
    public JsonNode? ArgumentOf(string parameterName) => Deployment?["properties"]?["parameters"]?[parameterName]?["value"];

    /// <summary>
    /// The declarations a parameter's value passes through: this template's, then the outer template's for as long
    /// as each module deployment passes an outer parameter straight through.
    /// </summary>
    public IEnumerable<JsonObject> ParameterChain(string name)
    {
        string? current = name;
        for (ArmScope? scope = this; scope is not null && current is not null; scope = scope.Parent)
        {
            if (scope.Parameter(current) is not { } declaration)
            {
                yield break;
            }

            yield return declaration;
            current = ParameterReference(scope.ArgumentOf(current));
        }
    }

    /// <summary>The parameter name when <paramref name="value"/> is exactly <c>[parameters('name')]</c>, else null.</summary>
    public static string? ParameterReference(JsonNode? value) =>
        AsString(value) is { } text && WholeParameterReference().Match(text) is { Success: true } m ? m.Groups[1].Value : null;

    /// <summary>Every <c>variables('name')</c> an expression mentions.</summary>
    public static IEnumerable<string> VariableReferences(string expression) =>
        VariableReference().Matches(expression).Select(m => m.Groups[1].Value);

    /// <summary>Every <c>parameters('name')</c> an expression mentions.</summary>
    public static IEnumerable<string> ParameterReferences(string expression) =>
        AnyParameterReference().Matches(expression).Select(m => m.Groups[1].Value);

    /// <summary>A node as JSON text with quotes left as they are (the default escapes <c>'</c>), so that expressions inside can be searched.</summary>
    public static string TextOf(JsonNode? node) => node?.ToJsonString(Unescaped) ?? string.Empty;

    private static readonly JsonSerializerOptions Unescaped = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static string? AsString(JsonNode? node) =>
        node is JsonValue value && value.GetValueKind() == JsonValueKind.String ? value.GetValue<string>() : null;

    [GeneratedRegex(@"^\[parameters\('([^']+)'\)\]$")]
    private static partial Regex WholeParameterReference();

    [GeneratedRegex(@"parameters\('([^']+)'\)")]
    private static partial Regex AnyParameterReference();

    [GeneratedRegex(@"variables\('([^']+)'\)")]
    private static partial Regex VariableReference();
}

/// <summary>One resource declaration, and the template it is declared in.</summary>
public sealed record ArmResource(string? SymbolicName, JsonObject Json, ArmScope Scope)
{
    public string Type => ArmScope.AsString(Json["type"]) ?? string.Empty;

    public JsonNode? Properties => Json["properties"];

    /// <summary>Whether it is a reference to a resource deployed elsewhere (<c>existing</c>), not one this template deploys.</summary>
    public bool IsExisting => Json["existing"] is JsonValue value && value.GetValue<bool>();
}
