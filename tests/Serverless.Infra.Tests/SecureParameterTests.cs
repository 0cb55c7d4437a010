using System.Text.Json.Nodes;
using Serverless.Infra.Tests.Arm;
using Xunit;

namespace Serverless.Infra.Tests;

/// <summary>
/// A secret stays secure all the way: a module deployment logs the values of its parameters in the deployment
/// history unless they are <c>securestring</c> or <c>secureObject</c>, and the compiler does not warn when a secure
/// value is passed to a parameter that is neither. The evaluated deployments (<c>bicep snapshot</c>) are taken without
/// the decorators, so this is where they are checked.
/// </summary>
[Collection(MainTemplateCollection.Name)]
public sealed class SecureParameterTests(MainTemplateFixture fixture)
{
    [Fact]
    public void EveryModuleParameterThatReceivesASecret_IsSecure()
    {
        var flows = SecretFlows().ToList();

        // The secrets this checks are there: the API key, the signing keys, the payment service's key, the database
        // connections and the settings made of them.
        string[] expected =
            ["transactionsApiKey", "signingKey", "previousSigningKeys", "paymentsApiKey", "ordersPostgresConnection", "ledgerMySqlConnection", "secretAppSettings", "appSettings"];
        Assert.All(expected, name => Assert.Contains(flows, f => f.Parameter == name));

        var leaks = flows.Where(f => !IsSecure(f.Declaration)).Select(f => $"{f.Module}: {f.Parameter}").ToList();
        Assert.True(leaks.Count == 0, "These module parameters receive a secure value but are not secure themselves: " + string.Join(", ", leaks));
    }

    [Theory]
    [InlineData("transactionsApiKey")]
    [InlineData("transactionsSigningKey")]
    [InlineData("transactionsSigningKeysPrevious")]
    [InlineData("externalParticipantSigningKeys")]
    [InlineData("paymentsApiKey")]
    [InlineData("ordersPostgresConnection")]
    [InlineData("ledgerMySqlConnection")]
    [InlineData("shippingPostgresConnection")]
    public void TheSecretsOfMainBicep_AreSecureParameters(string parameter)
    {
        Assert.True(IsSecure(fixture.Template.Root.Parameter(parameter)), $"main.bicep's {parameter} should be @secure().");
    }

    private static bool IsSecure(JsonObject? declaration) =>
        ArmScope.AsString(declaration?["type"]) is { } type
        && (type.Equals("securestring", StringComparison.OrdinalIgnoreCase) || type.Equals("secureObject", StringComparison.OrdinalIgnoreCase));

    // Every module parameter (of a type that can carry a secret: not a bool or an int) whose argument reads a secure
    // parameter of the template around it, directly or through its variables.
    private IEnumerable<(string Module, string Parameter, JsonObject Declaration)> SecretFlows()
    {
        var modules = fixture.Template.Resources.Select(r => r.Scope).Where(s => s.Deployment is not null && s.Parent is not null).Distinct();
        foreach (var module in modules)
        {
            var declarations = module.Template["parameters"]?.AsObject() ?? [];
            foreach (var (name, node) in declarations)
            {
                if (node is not JsonObject declaration || ArmScope.AsString(declaration["type"])?.ToLowerInvariant() is "bool" or "int")
                {
                    continue;
                }

                var argument = ArmScope.TextOf(module.Deployment!["properties"]?["parameters"]?[name]);
                if (ReadParameters(module.Parent!, argument, []).Any(p => IsSecure(module.Parent!.Parameter(p))))
                {
                    yield return (string.Join(" < ", module.DeploymentNames), name, declaration);
                }
            }
        }
    }

    private static IEnumerable<string> ReadParameters(ArmScope scope, string expression, HashSet<string> expanded)
    {
        foreach (var parameter in ArmScope.ParameterReferences(expression))
        {
            yield return parameter;
        }

        foreach (var variable in ArmScope.VariableReferences(expression).Where(expanded.Add).ToList())
        {
            foreach (var parameter in ReadParameters(scope, ArmScope.TextOf(scope.Variable(variable)), expanded))
            {
                yield return parameter;
            }
        }
    }
}
