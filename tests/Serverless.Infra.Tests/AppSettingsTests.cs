using Serverless.Infra.Tests.Arm;
using Serverless.Infra.Tests.Snapshot;
using Xunit;

namespace Serverless.Infra.Tests;

/// <summary>
/// The apps' settings, as a deployment with main.bicep's defaults would set them, and as one with what the
/// local.settings.sample.json files describe (the sample's participants, the payment service) would.
/// </summary>
[Collection(MainTemplateCollection.Name)]
public sealed class AppSettingsTests(
    MainTemplateFixture template,
    DefaultDeploymentFixture deployment,
    ExternalParticipantDeploymentFixture withShipping,
    SampleDeploymentFixture sample)
{
    // Settings Flex Consumption rejects or ignores: the runtime lives in functionAppConfig, there is no content share,
    // and the package comes from the deployment container.
    private static readonly string[] RejectedByFlexConsumption =
    [
        "FUNCTIONS_WORKER_RUNTIME",
        "FUNCTIONS_EXTENSION_VERSION",
        "WEBSITE_RUN_FROM_PACKAGE",
        "WEBSITE_CONTENTAZUREFILECONNECTIONSTRING",
        "WEBSITE_CONTENTSHARE",
        "SCM_DO_BUILD_DURING_DEPLOYMENT",
        "ENABLE_ORYX_BUILD",
    ];

    private IReadOnlyDictionary<string, string> Settings => deployment.CoordinatorApp.AppSettings;

    [Fact]
    public void AppSettings_ConnectToStorageThroughTheManagedIdentity()
    {
        Assert.Equal("managedidentity", Settings["AzureWebJobsStorage__credential"]);
        Assert.StartsWith($"st{TestParameters.NamePrefix}", Settings["AzureWebJobsStorage__accountName"], StringComparison.Ordinal);

        // A user-assigned identity must be named, else the host and the app ask for a system-assigned one there is not.
        var clientId = Settings["AzureWebJobsStorage__clientId"];
        Assert.Equal(DeploymentFixture.IdentityOf(deployment.CoordinatorApp), PredictedResource.ReferencedResourceId(clientId));
        Assert.EndsWith(".clientId)]", clientId, StringComparison.Ordinal);
    }

    // The sample names participants run elsewhere (PARTICIPANT_SHIPPING_KINDS, PARTICIPANT_LOYALTY_URL, ...): settings a
    // deployment has when it has those participants. So the deployment checked is the one the sample describes, and
    // every setting of the sample must be there, none exempted.
    [Fact]
    public void AppSettings_CoverEveryValueOfTheLocalSettingsSample()
    {
        LocalSettingsSample.AssertCoveredBy(Repository.SampleSettingValues(), sample.CoordinatorApp, "src/Serverless.Functions/local.settings.sample.json");
    }

    [Fact]
    public void ShippingAppSettings_CoverEveryValueOfItsLocalSettingsSample()
    {
        LocalSettingsSample.AssertCoveredBy(Repository.SampleSettingValues(Repository.ShippingApp), sample.ShippingApp, "src/Serverless.Shipping/local.settings.sample.json");
    }

    // Its timer function AskInDoubt binds %TRANSACTIONS_IN_DOUBT_SCHEDULE%: without the setting it is in error and never
    // runs. Both in-doubt settings are the coordinator's values, by default those of the shipping app's sample.
    [Theory]
    [InlineData("TRANSACTIONS_IN_DOUBT_SCHEDULE")]
    [InlineData("TRANSACTIONS_IN_DOUBT_SECONDS")]
    public void ShippingAppSettings_TakeTheCoordinatorsInDoubtSettings_ByDefaultTheSamplesValues(string settingName)
    {
        Assert.Equal(sample.CoordinatorApp.AppSettings[settingName], sample.ShippingApp.AppSettings[settingName]);
        Assert.Equal(Repository.SampleSettingValues(Repository.ShippingApp)[settingName], sample.ShippingApp.AppSettings[settingName]);
    }

    [Fact]
    public void AppSettings_OfEveryApp_LeaveOutSettingsFlexConsumptionRejects()
    {
        foreach (var site in withShipping.Snapshot.OfType(DeploymentSnapshot.SiteType))
        {
            Assert.Empty(site.AppSettings.Keys.Intersect(RejectedByFlexConsumption, StringComparer.OrdinalIgnoreCase));
        }
    }

    // Each comes from a secure parameter of main.bicep (securestring, never logged in deployment history); that every
    // module on the way declares it secure too is SecureParameterTests' check.
    [Theory]
    [InlineData("TRANSACTIONS_API_KEY", "transactionsApiKey", TestParameters.ApiKey)]
    [InlineData("ORDERS_POSTGRES_CONNECTION", "ordersPostgresConnection", "")]
    [InlineData("LEDGER_MYSQL_CONNECTION", "ledgerMySqlConnection", "")]
    public void AppSettings_TakeSecretsOnlyFromSecureParameters(string settingName, string mainParameter, string value)
    {
        Assert.Equal(value, Settings[settingName]);
        Assert.Equal("securestring", ArmScope.AsString(template.Template.Root.Parameter(mainParameter)?["type"]), ignoreCase: true);
    }

    // The signing keys are the one secret the app's own security rests on: they live in Key Vault (KeyVaultTests), and the
    // settings only point there.
    [Fact]
    public void AppSettings_TakeTheSigningKeyOnlyFromAKeyVaultReference()
    {
        var secret = withShipping.Snapshot.Named(KeyVaultTests.SecretType, "transactions-signing-key");
        KeyVaultReference.AssertPointsTo(withShipping.CoordinatorApp.AppSettings["TRANSACTIONS_SIGNING_KEY"], secret);
    }

    // The previous keys' secret exists only when there are previous keys, so its URI is made from the vault's, and the
    // setting is empty until the deployment knows it.
    [Fact]
    public void AppSettings_TakeThePreviousSigningKeysOnlyFromAKeyVaultReference()
    {
        var vault = withShipping.Snapshot.OfType("Microsoft.KeyVault/vaults").Single();
        Assert.Equal(TestParameters.PreviousSigningKeys, withShipping.Snapshot.Named(KeyVaultTests.SecretType, "transactions-signing-keys-previous").Properties?["value"]?.ToString());
        var value = withShipping.CoordinatorApp.AppSettings["TRANSACTIONS_SIGNING_KEYS_PREVIOUS"];
        Assert.Contains("'@Microsoft.KeyVault(SecretUri={0})'", value, StringComparison.Ordinal);
        Assert.Contains($"format('{{0}}secrets/transactions-signing-keys-previous', reference('{vault.Id}'", value, StringComparison.Ordinal);
        Assert.DoesNotContain(TestParameters.PreviousSigningKeys, value, StringComparison.Ordinal);
    }

    [Fact]
    public void AppSettings_WithoutPreviousSigningKeys_LeaveThatSettingEmpty()
    {
        Assert.Equal(string.Empty, Settings["TRANSACTIONS_SIGNING_KEYS_PREVIOUS"]);
    }

    // A deployment without overrides behaves as the app does locally with the sample's values.
    [Theory]
    [InlineData("TRANSACTIONS_DEFAULT_TIMEOUT_SECONDS")]
    [InlineData("TRANSACTIONS_IN_DOUBT_SCHEDULE")]
    [InlineData("TRANSACTIONS_IN_DOUBT_SECONDS")]
    [InlineData("TRANSACTIONS_HISTORY_PURGE_SCHEDULE")]
    [InlineData("TRANSACTIONS_HISTORY_RETENTION")]
    public void AppSettings_DefaultToTheValuesOfTheLocalSettingsSample(string settingName)
    {
        Assert.Equal(Repository.SampleSettingValues()[settingName], Settings[settingName]);
    }

    // The participants and their kinds are the deployment's: given the sample's, the settings are the sample's.
    [Theory]
    [InlineData("TRANSACTIONS_PARTICIPANTS")]
    [InlineData("PARTICIPANT_SHIPPING_KINDS")]
    [InlineData("PARTICIPANT_LOYALTY_KINDS")]
    public void AppSettings_OfTheSamplesParticipants_AreTheSamplesValues(string settingName)
    {
        Assert.Equal(Repository.SampleSettingValues()[settingName], sample.CoordinatorApp.AppSettings[settingName]);
    }

    // Without participants run elsewhere, the coordinator knows the participants parameter's (the app's own sample participants).
    [Fact]
    public void AppSettings_ByDefault_NameTheParticipantsParametersDefault()
    {
        Assert.Equal(string.Join(',', template.DefaultParticipants), Settings["TRANSACTIONS_PARTICIPANTS"]);
    }

    // ResolveInDoubt and PurgeHistory bind these as timer schedules: NCRONTAB with seconds, six fields.
    [Theory]
    [InlineData("TRANSACTIONS_IN_DOUBT_SCHEDULE")]
    [InlineData("TRANSACTIONS_HISTORY_PURGE_SCHEDULE")]
    public void AppSettings_TimerSchedulesAreSixFieldCronExpressions(string settingName)
    {
        Assert.Equal(6, Settings[settingName].Split(' ', StringSplitOptions.RemoveEmptyEntries).Length);
    }

    [Theory]
    [InlineData("ordersPostgresConnection")]
    [InlineData("ledgerMySqlConnection")]
    [InlineData("shippingPostgresConnection")]
    public void AppSettings_DatabaseConnectionsDefaultToEmpty(string parameter)
    {
        var declaration = template.Template.Root.Parameter(parameter);
        Assert.NotNull(declaration);
        Assert.Equal(string.Empty, ArmScope.AsString(declaration["defaultValue"]));
    }
}
