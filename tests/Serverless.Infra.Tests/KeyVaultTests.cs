using Serverless.Infra.Tests.Arm;
using Serverless.Infra.Tests.Snapshot;
using Xunit;

namespace Serverless.Infra.Tests;

/// <summary>
/// The signing keys and the payment service's key on Azure: in a Key Vault with RBAC authorization, set from secure
/// parameters, read by the app's user-assigned identity through Key Vault references with the narrowest role there is
/// (Key Vault Secrets User) on each secret, never as plain app settings. (A participant's key: ExternalParticipantTests,
/// HttpParticipantTests; the payment service's: PaymentsTests.)
/// </summary>
[Collection(MainTemplateCollection.Name)]
public sealed class KeyVaultTests(
    MainTemplateFixture fixture,
    DefaultDeploymentFixture deployment,
    ExternalParticipantDeploymentFixture withShipping,
    SampleDeploymentFixture sample)
{
    public const string SecretsUser = "4633458b-17de-408a-b874-0445c86b69e6";
    public const string SecretType = "Microsoft.KeyVault/vaults/secrets";

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
    [InlineData("payments-api-key", "paymentsApiKey")]
    public void Secrets_HoldTheKeys_FromSecureParametersOfMainBicep(string secretName, string mainParameter)
    {
        var secret = Assert.Single(fixture.CoordinatorResources(SecretType), s => (ArmScope.AsString(s.Json["name"]) ?? string.Empty).Contains(secretName, StringComparison.Ordinal)
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
        var coordinator = DeploymentFixture.IdentityOf(withShipping.CoordinatorApp);
        var secrets = withShipping.Snapshot.OfType(SecretType).Select(s => s.Id).ToHashSet(StringComparer.Ordinal);
        var vault = withShipping.Snapshot.OfType("Microsoft.KeyVault/vaults").Single().Id;
        var onTheVault = withShipping.Snapshot.RoleAssignments.Where(a => a.Scope.StartsWith(vault, StringComparison.Ordinal)).ToList();

        // The coordinator reads its current and previous keys and every participant's key; nobody has a role on the vault itself.
        Assert.NotEmpty(onTheVault);
        Assert.All(onTheVault, a =>
        {
            Assert.Contains(a.Scope, secrets);
            Assert.Equal(SecretsUser, a.RoleId);
            Assert.Equal("ServicePrincipal", a.PrincipalType);
        });
        string[] coordinatorReads = ["transactions-signing-key", "transactions-signing-keys-previous", "participant-shipping-signing-key"];
        Assert.Equal(
            coordinatorReads.Select(n => withShipping.Snapshot.Named(SecretType, n).Id).Order(StringComparer.Ordinal),
            onTheVault.Where(a => a.PrincipalIdentityId == coordinator).Select(a => a.Scope).Order(StringComparer.Ordinal));
    }

    // With every kind of participant run elsewhere and the payment service, the coordinator reads exactly its key, each
    // participant's and the payment service's, each on its secret.
    [Fact]
    public void TheAppsIdentity_ReadsEveryParticipantsKeyAndThePaymentServicesKey_EachOnItsSecret()
    {
        var coordinator = DeploymentFixture.IdentityOf(sample.CoordinatorApp);
        string[] coordinatorReads = ["transactions-signing-key", "participant-shipping-signing-key", "participant-loyalty-signing-key", "payments-api-key"];

        Assert.Equal(
            coordinatorReads.Select(n => sample.Snapshot.Named(SecretType, n).Id).Order(StringComparer.Ordinal),
            sample.Snapshot.RoleAssignments.Where(a => a.PrincipalIdentityId == coordinator && a.RoleId == SecretsUser).Select(a => a.Scope).Order(StringComparer.Ordinal));
        Assert.Equal(coordinatorReads.Order(StringComparer.Ordinal), sample.Snapshot.OfType(SecretType).Select(s => s.Name.Split('/')[^1]).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void FunctionApp_ResolvesKeyVaultReferencesWithItsUserAssignedIdentity()
    {
        var app = deployment.CoordinatorApp;
        Assert.Equal(DeploymentFixture.IdentityOf(app), ArmScope.AsString(app.Property("keyVaultReferenceIdentity")));
    }

    [Fact]
    public void Template_ContainsNoSigningKeyAsAPlainAppSetting()
    {
        KeyVaultReference.AssertPointsTo(deployment.CoordinatorApp.AppSettings["TRANSACTIONS_SIGNING_KEY"], deployment.Snapshot.Named(SecretType, "transactions-signing-key"));

        // The key given for the deployment is in its secret and nowhere else.
        Assert.Single(deployment.Snapshot.Resources, r => r.Json.ToJsonString().Contains(TestParameters.SigningKey, StringComparison.Ordinal));
    }
}
