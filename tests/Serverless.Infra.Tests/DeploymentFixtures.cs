using Serverless.Infra.Tests.Snapshot;
using Xunit;

namespace Serverless.Infra.Tests;

/// <summary>The parameter values the evaluated deployments are given: made up, long enough, and each one unique.</summary>
public static class TestParameters
{
    public const string NamePrefix = "tx2pc";
    public const string ApiKey = "api-key-of-the-infra-tests-0123456789abcdef";
    public const string SigningKey = "signing-key-of-the-infra-tests-0123456789ab";
    public const string PreviousSigningKeys = "previous-key-of-the-infra-tests-0123456789a";
    public const string ShippingSigningKey = "shipping-key-of-the-infra-tests-0123456789a";
    public const string ShippingPostgresConnection = "Host=shipping-db;Port=5432;Username=shipping;Password=infra-tests;Database=shipping";
    public const string LoyaltySigningKey = "loyalty-key-of-the-infra-tests-0123456789ab";
    public const string LoyaltyUrl = "https://loyalty.example.com/tx";
    public const string PaymentsUrl = "https://payments.example.com";
    public const string PaymentsApiKey = "payments-key-of-the-infra-tests-0123456789a";

    /// <summary>What main.bicep requires and nothing else: every other parameter keeps its default.</summary>
    public static Dictionary<string, string> Required() => new(StringComparer.Ordinal)
    {
        ["namePrefix"] = Literal(NamePrefix),
        ["transactionsApiKey"] = Literal(ApiKey),
        ["transactionsSigningKey"] = Literal(SigningKey),
    };

    /// <summary>A Bicep string literal.</summary>
    public static string Literal(string value) => "'" + value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("'", "\\'", StringComparison.Ordinal) + "'";
}

/// <summary>One evaluated deployment of main.bicep, shared by the tests of <see cref="MainTemplateCollection"/>.</summary>
public abstract class DeploymentFixture : IAsyncLifetime
{
    private SnapshotRun? _run;

    /// <summary>The evaluated deployment; throws with the compiler's output when the evaluation failed.</summary>
    public DeploymentSnapshot Snapshot => (_run ?? throw new InvalidOperationException("Not initialized.")).Succeeded;

    /// <summary>The coordinator's function app, <c>{prefix}-func-{hash}</c>.</summary>
    public PredictedResource CoordinatorApp => SiteNamed($"{TestParameters.NamePrefix}-func-");

    /// <summary>The id of the user-assigned identity a site runs as.</summary>
    public static string IdentityOf(PredictedResource site) =>
        Assert.Single(site.Json["identity"]?["userAssignedIdentities"]?.AsObject() ?? []).Key;

    /// <summary>The storage account an app's Functions host uses (its AzureWebJobsStorage).</summary>
    public PredictedResource HostStorageOf(PredictedResource site) =>
        Snapshot.Named("Microsoft.Storage/storageAccounts", site.AppSettings["AzureWebJobsStorage__accountName"]);

    public async Task InitializeAsync() => _run = await BicepSnapshot.OfMainAsync(Parameters());

    public Task DisposeAsync() => Task.CompletedTask;

    protected abstract Dictionary<string, string> Parameters();

    protected PredictedResource SiteNamed(string prefix)
    {
        var sites = Snapshot.OfType(DeploymentSnapshot.SiteType).Where(s => s.Name.StartsWith(prefix, StringComparison.Ordinal)).ToList();
        Assert.True(sites.Count == 1, $"Expected one site named {prefix}…, found: {string.Join(", ", Snapshot.OfType(DeploymentSnapshot.SiteType).Select(s => s.Name))}.");
        return sites[0];
    }
}

/// <summary>main.bicep with its required parameters only: the coordinator as it was before external participants.</summary>
public sealed class DefaultDeploymentFixture : DeploymentFixture
{
    protected override Dictionary<string, string> Parameters() => TestParameters.Required();
}

/// <summary>
/// main.bicep with one external participant, shipping, its key and its database; and previous signing keys, so that
/// every optional secret of the coordinator is present too.
/// </summary>
public sealed class ExternalParticipantDeploymentFixture : DeploymentFixture
{
    public const string Participant = "shipping";

    /// <summary>The shipping participant's function app, <c>{prefix}-shipping-func-{hash}</c>.</summary>
    public PredictedResource ParticipantApp => SiteNamed($"{TestParameters.NamePrefix}-{Participant}-func-");

    protected override Dictionary<string, string> Parameters()
    {
        var parameters = TestParameters.Required();
        parameters["transactionsSigningKeysPrevious"] = TestParameters.Literal(TestParameters.PreviousSigningKeys);
        parameters["externalParticipants"] = $"[ {{ name: '{Participant}' }} ]";
        parameters["externalParticipantSigningKeys"] = $"{{ {Participant}: {TestParameters.Literal(TestParameters.ShippingSigningKey)} }}";
        parameters["shippingPostgresConnection"] = TestParameters.Literal(TestParameters.ShippingPostgresConnection);
        return parameters;
    }
}

/// <summary>
/// main.bicep given what src/Serverless.Functions/local.settings.sample.json describes: shipping as an external
/// participant that takes 2pc branches, loyalty as an HTTP participant that takes tcc branches, and the payment service
/// with its key. (The sample's loyalty runs on http://127.0.0.1; on Azure its URL is https.) Every setting of the
/// sample, the per-deployment ones included, exists in this deployment.
/// </summary>
public sealed class SampleDeploymentFixture : DeploymentFixture
{
    public const string ExternalParticipant = "shipping";
    public const string HttpParticipant = "loyalty";

    /// <summary>The shipping participant's function app, <c>{prefix}-shipping-func-{hash}</c>.</summary>
    public PredictedResource ShippingApp => SiteNamed($"{TestParameters.NamePrefix}-{ExternalParticipant}-func-");

    protected override Dictionary<string, string> Parameters()
    {
        var parameters = TestParameters.Required();
        parameters["externalParticipants"] = $"[ {{ name: '{ExternalParticipant}', kinds: [ '2pc' ] }} ]";
        parameters["httpParticipants"] = $"[ {{ name: '{HttpParticipant}', url: {TestParameters.Literal(TestParameters.LoyaltyUrl)}, kinds: [ 'tcc' ] }} ]";
        parameters["externalParticipantSigningKeys"] =
            $"{{ {ExternalParticipant}: {TestParameters.Literal(TestParameters.ShippingSigningKey)}, {HttpParticipant}: {TestParameters.Literal(TestParameters.LoyaltySigningKey)} }}";
        parameters["shippingPostgresConnection"] = TestParameters.Literal(TestParameters.ShippingPostgresConnection);
        parameters["paymentsUrl"] = TestParameters.Literal(TestParameters.PaymentsUrl);
        parameters["paymentsApiKey"] = TestParameters.Literal(TestParameters.PaymentsApiKey);
        return parameters;
    }
}
