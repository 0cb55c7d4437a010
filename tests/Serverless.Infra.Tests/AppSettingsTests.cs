using Serverless.Infra.Tests.Arm;
using Xunit;

namespace Serverless.Infra.Tests;

[Collection(MainTemplateCollection.Name)]
public sealed class AppSettingsTests(MainTemplateFixture fixture)
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

    [Fact]
    public void AppSettings_ConnectToStorageThroughTheManagedIdentity()
    {
        Assert.Equal("managedidentity", fixture.Setting("AzureWebJobsStorage__credential").Text);
        var account = ArmScope.ParameterReference(fixture.Setting("AzureWebJobsStorage__accountName").Value);
        Assert.NotNull(account);
        Assert.Contains("storage", ArmScope.AsString(fixture.FunctionApp.Scope.ArgumentOf(account)), StringComparison.OrdinalIgnoreCase);

        // A user-assigned identity must be named, else the host and the app ask for a system-assigned one there is not.
        var clientId = ArmScope.ParameterReference(fixture.Setting("AzureWebJobsStorage__clientId").Value);
        Assert.NotNull(clientId);
        var argument = ArmScope.AsString(fixture.FunctionApp.Scope.ArgumentOf(clientId));
        Assert.Contains("clientId", argument, StringComparison.Ordinal);
        Assert.Contains("identity", argument, StringComparison.Ordinal);
    }

    [Fact]
    public void AppSettings_CoverEveryValueOfTheLocalSettingsSample()
    {
        var names = fixture.AppSettings.Select(s => s.Name).ToHashSet(StringComparer.Ordinal);
        foreach (var (name, sampleValue) in Repository.SampleSettingValues())
        {
            switch (name)
            {
                case "AzureWebJobsStorage":
                    // On Azure the connection is identity-based: the same setting, split into its __ parts.
                    Assert.Contains("AzureWebJobsStorage__accountName", names);
                    Assert.Contains("AzureWebJobsStorage__credential", names);
                    break;
                case "FUNCTIONS_WORKER_RUNTIME":
                    // Flex Consumption takes the runtime from functionAppConfig, not from this setting.
                    Assert.Equal(sampleValue, ArmScope.AsString(fixture.FunctionAppProperty("functionAppConfig.runtime.name")));
                    break;
                default:
                    Assert.True(names.Contains(name), $"local.settings.sample.json has {name}; the function app's settings do not.");
                    break;
            }
        }
    }

    [Fact]
    public void AppSettings_LeaveOutSettingsFlexConsumptionRejects()
    {
        var present = fixture.AppSettings.Select(s => s.Name).Intersect(RejectedByFlexConsumption, StringComparer.OrdinalIgnoreCase);
        Assert.Empty(present);
    }

    [Theory]
    [InlineData("TRANSACTIONS_API_KEY")]
    [InlineData("ORDERS_POSTGRES_CONNECTION")]
    [InlineData("LEDGER_MYSQL_CONNECTION")]
    public void AppSettings_TakeSecretsOnlyFromSecureParameters(string settingName)
    {
        var parameter = ArmScope.ParameterReference(fixture.Setting(settingName).Value);
        Assert.True(parameter is not null, $"{settingName} should be set straight from a parameter.");

        // Every template the value passes through declares it securestring, up to main.bicep's own parameter, so it
        // is never logged in deployment history.
        var chain = fixture.FunctionApp.Scope.ParameterChain(parameter).ToList();
        Assert.True(chain.Count >= 2, $"{settingName} should come from a parameter of main.bicep.");
        Assert.All(chain, declaration => Assert.Equal("securestring", ArmScope.AsString(declaration["type"]), ignoreCase: true));
    }

    // The signing keys are the one secret the app's own security rests on: they live in Key Vault (KeyVaultTests), and the
    // settings only point there.
    [Theory]
    [InlineData("TRANSACTIONS_SIGNING_KEY")]
    [InlineData("TRANSACTIONS_SIGNING_KEYS_PREVIOUS")]
    public void AppSettings_TakeTheSigningKeysOnlyFromKeyVaultReferences(string settingName)
    {
        var text = fixture.Setting(settingName).Text ?? string.Empty;
        Assert.Contains("@Microsoft.KeyVault(SecretUri=", text, StringComparison.Ordinal);
        var parameter = Assert.Single(ArmScope.ParameterReferences(text).Distinct(), p => p.Contains("SecretUri", StringComparison.Ordinal));
        var argument = ArmScope.AsString(fixture.FunctionApp.Scope.ArgumentOf(parameter)) ?? string.Empty;
        Assert.Contains("reference('keyVault')", argument, StringComparison.Ordinal);
        Assert.Contains("outputs", argument, StringComparison.Ordinal);
        Assert.DoesNotContain("parameters('transactionsSigningKey", text, StringComparison.Ordinal);
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
        Assert.Equal(Repository.SampleSettingValues()[settingName], DefaultOfMainParameterBehind(settingName));
    }

    // ResolveInDoubt and PurgeHistory bind these as timer schedules: NCRONTAB with seconds, six fields.
    [Theory]
    [InlineData("TRANSACTIONS_IN_DOUBT_SCHEDULE")]
    [InlineData("TRANSACTIONS_HISTORY_PURGE_SCHEDULE")]
    public void AppSettings_TimerSchedulesAreSixFieldCronExpressions(string settingName)
    {
        var schedule = DefaultOfMainParameterBehind(settingName);
        Assert.NotNull(schedule);
        Assert.Equal(6, schedule.Split(' ', StringSplitOptions.RemoveEmptyEntries).Length);
    }

    [Theory]
    [InlineData("ordersPostgresConnection")]
    [InlineData("ledgerMySqlConnection")]
    public void AppSettings_DatabaseConnectionsDefaultToEmpty(string parameter)
    {
        var declaration = fixture.Template.Root.Parameter(parameter);
        Assert.NotNull(declaration);
        Assert.Equal(string.Empty, ArmScope.AsString(declaration["defaultValue"]));
    }

    [Fact]
    public void AppSettings_NameByDefaultTheParticipantsOfTheSample()
    {
        Assert.Contains("parameters('participants')", fixture.Setting("TRANSACTIONS_PARTICIPANTS").Text, StringComparison.Ordinal);
        var defaults = fixture.Template.Root.Parameter("participants")?["defaultValue"]?.AsArray().Select(n => n?.ToString()).ToList();
        var sample = Repository.SampleSettingValues()["TRANSACTIONS_PARTICIPANTS"]
            .Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.Equal(sample, defaults);
    }

    // The default value of the main.bicep parameter a setting is made from (through the function-app module's parameter).
    private string? DefaultOfMainParameterBehind(string settingName)
    {
        var expression = fixture.Setting(settingName).Text ?? string.Empty;
        var parameter = Assert.Single(ArmScope.ParameterReferences(expression));
        var chain = fixture.FunctionApp.Scope.ParameterChain(parameter).ToList();
        Assert.True(chain.Count >= 2, $"{settingName} should come from a parameter of main.bicep.");
        return chain[^1]["defaultValue"]?.ToString();
    }
}
