using Serverless.Infra.Tests.Arm;
using Serverless.Infra.Tests.Snapshot;
using Xunit;

namespace Serverless.Infra.Tests;

/// <summary>
/// The payment service the <c>payments</c> saga participant calls: <c>PAYMENTS_URL</c>, and its key
/// <c>PAYMENTS_API_KEY</c> (sent as <c>Authorization: Bearer</c>), kept in Key Vault like the signing keys.
/// </summary>
[Collection(MainTemplateCollection.Name)]
public sealed class PaymentsTests(MainTemplateFixture template, SampleDeploymentFixture deployment, DefaultDeploymentFixture withoutPayments)
{
    private const string SecretName = "payments-api-key";

    private PredictedResource Secret => deployment.Snapshot.Named(KeyVaultTests.SecretType, SecretName);

    [Fact]
    public void CoordinatorApp_CallsThePaymentServiceAtItsUrl()
    {
        Assert.Equal(TestParameters.PaymentsUrl, deployment.CoordinatorApp.AppSettings["PAYMENTS_URL"]);
    }

    [Fact]
    public void ApiKey_IsASecretFromItsSecureParameter_ThatTheAppReadsThroughAKeyVaultReference()
    {
        Assert.Equal(TestParameters.PaymentsApiKey, ArmScope.AsString(Secret.Properties?["value"]));
        KeyVaultReference.AssertPointsTo(deployment.CoordinatorApp.AppSettings["PAYMENTS_API_KEY"], Secret);
        Assert.Equal("securestring", ArmScope.AsString(template.Template.Root.Parameter("paymentsApiKey")?["type"]), ignoreCase: true);

        // The key is in its secret and nowhere else.
        Assert.Single(deployment.Snapshot.Resources, r => r.Json.ToJsonString().Contains(TestParameters.PaymentsApiKey, StringComparison.Ordinal));
    }

    [Fact]
    public void ApiKey_MayBeReadByTheCoordinatorAlone()
    {
        var reader = Assert.Single(deployment.Snapshot.RoleAssignments, a => a.Scope == Secret.Id);
        Assert.Equal(KeyVaultTests.SecretsUser, reader.RoleId);
        Assert.Equal("ServicePrincipal", reader.PrincipalType);
        Assert.Equal(DeploymentFixture.IdentityOf(deployment.CoordinatorApp), reader.PrincipalIdentityId);
    }

    // No payment service: no secret, and both settings empty (the app then has no payments participant).
    [Fact]
    public void WithoutPaymentsUrl_ThereIsNoKey_AndBothSettingsAreEmpty()
    {
        Assert.DoesNotContain(withoutPayments.Snapshot.OfType(KeyVaultTests.SecretType), s => s.Name.EndsWith(SecretName, StringComparison.Ordinal));
        Assert.Equal(string.Empty, withoutPayments.CoordinatorApp.AppSettings["PAYMENTS_URL"]);
        Assert.Equal(string.Empty, withoutPayments.CoordinatorApp.AppSettings["PAYMENTS_API_KEY"]);
    }

    [Fact]
    public void ApiKey_DefaultsToEmpty()
    {
        Assert.Equal(string.Empty, ArmScope.AsString(template.Template.Root.Parameter("paymentsApiKey")?["defaultValue"]));
    }
}

/// <summary>What main.bicep refuses of the payment service's parameters before anything is deployed.</summary>
public sealed class PaymentsValidationTests
{
    // The app does not start with PAYMENTS_URL but without a key of at least 32 bytes, and the service answers 401 without it.
    [Theory]
    [InlineData("")]
    [InlineData("too-short-a-key")]
    public async Task AUrlWithoutAKeyOfAtLeast32Characters_IsRefused(string key)
    {
        var run = await SnapshotWith(TestParameters.PaymentsUrl, key);

        Assert.Null(run.Snapshot);
        Assert.Contains("paymentsApiKey is required when paymentsUrl is set, at least 32 characters", run.Run.StandardError + run.Run.StandardOutput, StringComparison.Ordinal);
        if (key.Length > 0)
        {
            Assert.DoesNotContain(key, run.Run.StandardError + run.Run.StandardOutput, StringComparison.Ordinal);
        }
    }

    // The key goes out as a bearer token with every call: never over plain http.
    [Theory]
    [InlineData("http://payments.example.com")]
    [InlineData("payments.example.com")]
    public async Task AUrlThatIsNotHttps_IsRefused(string url)
    {
        var run = await SnapshotWith(url, TestParameters.PaymentsApiKey);

        Assert.Null(run.Snapshot);
        Assert.Contains($"paymentsUrl is '{url}', not an absolute https URL", run.Run.StandardError + run.Run.StandardOutput, StringComparison.Ordinal);
    }

    // A key without a URL is of no use to the app: it is not stored, and the setting stays empty.
    [Fact]
    public async Task AKeyWithoutAUrl_IsNotStored()
    {
        var snapshot = (await SnapshotWith(string.Empty, TestParameters.PaymentsApiKey)).Succeeded;

        Assert.DoesNotContain(snapshot.Resources, r => r.Json.ToJsonString().Contains(TestParameters.PaymentsApiKey, StringComparison.Ordinal));
        Assert.Equal(string.Empty, Assert.Single(snapshot.OfType(DeploymentSnapshot.SiteType)).AppSettings["PAYMENTS_API_KEY"]);
    }

    private static Task<SnapshotRun> SnapshotWith(string url, string key)
    {
        var parameters = TestParameters.Required();
        parameters["paymentsUrl"] = TestParameters.Literal(url);
        parameters["paymentsApiKey"] = TestParameters.Literal(key);
        return BicepSnapshot.OfMainAsync(parameters);
    }
}
