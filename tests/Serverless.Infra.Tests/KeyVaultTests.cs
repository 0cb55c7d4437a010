using Serverless.Infra.Tests.Arm;
using Xunit;

namespace Serverless.Infra.Tests;

/// <summary>
/// The signing keys on Azure: in a Key Vault with RBAC authorization, set from secure parameters, read by the app's
/// user-assigned identity through Key Vault references with the narrowest role there is (Key Vault Secrets User) on each
/// secret, never as plain app settings.
/// </summary>
[Collection(MainTemplateCollection.Name)]
public sealed class KeyVaultTests(MainTemplateFixture fixture)
{
    private const string SecretsUser = "4633458b-17de-408a-b874-0445c86b69e6";
    private const string SecretType = "Microsoft.KeyVault/vaults/secrets";

    private ArmResource Vault => fixture.OnlyResource("Microsoft.KeyVault/vaults");

    [Fact]
    public void Vault_UsesRbacAuthorization_WithSoftDeleteAndPurgeProtection()
    {
        Assert.Equal("true", Vault.Properties?["enableRbacAuthorization"]?.ToString());
        Assert.Null(Vault.Properties?["accessPolicies"]);
        Assert.Equal("true", Vault.Properties?["enableSoftDelete"]?.ToString());
        Assert.Equal("true", Vault.Properties?["enablePurgeProtection"]?.ToString());
    }

    [Theory]
    [InlineData("transactions-signing-key", "transactionsSigningKey")]
    [InlineData("transactions-signing-keys-previous", "transactionsSigningKeysPrevious")]
    public void Secrets_HoldTheSigningKeys_FromSecureParametersOfMainBicep(string secretName, string mainParameter)
    {
        var secret = Assert.Single(fixture.Template.OfType(SecretType), s => (ArmScope.AsString(s.Json["name"]) ?? string.Empty).Contains(secretName, StringComparison.Ordinal)
            && !(ArmScope.AsString(s.Json["name"]) ?? string.Empty).Contains(secretName + "s", StringComparison.Ordinal));
        var parameter = ArmScope.ParameterReference(secret.Properties?["value"]);
        Assert.NotNull(parameter);
        var chain = secret.Scope.ParameterChain(parameter).ToList();
        Assert.True(chain.Count >= 2, $"{secretName} should come from a parameter of main.bicep.");
        Assert.All(chain, declaration => Assert.Equal("securestring", ArmScope.AsString(declaration["type"]), ignoreCase: true));
        Assert.NotNull(fixture.Template.Root.Parameter(mainParameter));
        Assert.Contains($"parameters('{mainParameter}')", ArmScope.AsString(secret.Scope.ArgumentOf(parameter)), StringComparison.Ordinal);
    }

    [Fact]
    public void TheAppsIdentity_MayOnlyReadTheSecrets_EachAssignmentScopedToOneSecret()
    {
        var assignments = fixture.Template.OfType("Microsoft.Authorization/roleAssignments")
            .Where(a => (ArmScope.AsString(a.Json["scope"]) ?? string.Empty).Contains("Microsoft.KeyVault/vaults/secrets", StringComparison.Ordinal))
            .ToList();
        Assert.Equal(2, assignments.Count);
        Assert.All(assignments, a =>
        {
            var role = ArmScope.AsString(a.Properties?["roleDefinitionId"]) ?? string.Empty;
            var roleId = role + string.Concat(ArmScope.VariableReferences(role).Select(v => ArmScope.AsString(a.Scope.Variable(v))));
            Assert.Contains(SecretsUser, roleId, StringComparison.OrdinalIgnoreCase);
            Assert.Equal("ServicePrincipal", ArmScope.AsString(a.Properties?["principalType"]));
            var principal = ArmScope.ParameterReference(a.Properties?["principalId"]);
            Assert.NotNull(principal);
            var argument = ArmScope.AsString(a.Scope.ArgumentOf(principal)) ?? string.Empty;
            Assert.Contains("identity", argument, StringComparison.Ordinal);
            Assert.Contains("principalId", argument, StringComparison.Ordinal);
        });
        Assert.DoesNotContain(
            fixture.Template.OfType("Microsoft.Authorization/roleAssignments"),
            a => (ArmScope.AsString(a.Json["scope"]) ?? string.Empty).Contains("Microsoft.KeyVault/vaults'", StringComparison.Ordinal));
    }

    [Fact]
    public void FunctionApp_ResolvesKeyVaultReferencesWithItsUserAssignedIdentity()
    {
        var reference = ArmScope.ParameterReference(fixture.FunctionApp.Properties?["keyVaultReferenceIdentity"]);
        Assert.NotNull(reference);
        Assert.Contains("Microsoft.ManagedIdentity/userAssignedIdentities", ArmScope.AsString(fixture.FunctionApp.Scope.ArgumentOf(reference)), StringComparison.Ordinal);
    }

    [Fact]
    public void Template_ContainsNoSigningKeyAsAPlainAppSetting()
    {
        var setting = fixture.Setting("TRANSACTIONS_SIGNING_KEY");
        Assert.StartsWith("[format('@Microsoft.KeyVault(SecretUri=", setting.Text ?? string.Empty, StringComparison.Ordinal);
    }
}
