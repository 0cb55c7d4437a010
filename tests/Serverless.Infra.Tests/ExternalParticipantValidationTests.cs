using Serverless.Infra.Tests.Snapshot;
using Xunit;

namespace Serverless.Infra.Tests;

/// <summary>
/// What main.bicep refuses before anything is deployed: an external participant it could not deploy (a name that
/// makes no valid queue or secret name, a name given twice or already hosted by the coordinator's app) or one without
/// a key of at least 32 characters. The deployment engine's own evaluation refuses them (<c>fail()</c> and parameter
/// constraints), so <c>az deployment group create</c> and <c>what-if</c> stop at validation.
/// </summary>
public sealed class ExternalParticipantValidationTests
{
    private const string Key = TestParameters.ShippingSigningKey;

    public static TheoryData<string, string> RefusedNames => new()
    {
        { "Shipping", "is not a participant name" },
        { "ship_ping", "is not a participant name" },
        { "-shipping", "is not a participant name" },
        { "shipping-", "is not a participant name" },
        { "ship--ping", "is not a participant name" },
        { "bank", "is also in participants" },
    };

    [Theory]
    [MemberData(nameof(RefusedNames))]
    public async Task AnInvalidParticipantName_IsRefused(string name, string reason)
    {
        var run = await SnapshotWith($"[ {{ name: '{name}' }} ]", $"{{ '{name}': '{Key}' }}");

        Assert.Null(run.Snapshot);
        Assert.Contains($"'{name}' {reason}", run.Run.StandardError + run.Run.StandardOutput, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ANameLongerThanFortyCharacters_IsRefusedByTheCompiler()
    {
        var name = new string('s', 41);
        var run = await SnapshotWith($"[ {{ name: '{name}' }} ]", $"{{ '{name}': '{Key}' }}");

        Assert.Null(run.Snapshot);
        Assert.Contains("maximum allowable length is 40", run.Run.StandardError, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AParticipantGivenTwice_IsRefused()
    {
        var run = await SnapshotWith("[ { name: 'shipping' }, { name: 'shipping' } ]", $"{{ shipping: '{Key}' }}");

        Assert.Null(run.Snapshot);
        Assert.Contains("names a participant twice", run.Run.StandardError + run.Run.StandardOutput, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AParticipantWithoutAKey_IsRefused()
    {
        var run = await SnapshotWith("[ { name: 'shipping' } ]", "{ other: '" + Key + "' }");

        Assert.Null(run.Snapshot);
        Assert.Contains("has no key for the external participant 'shipping'", run.Run.StandardError + run.Run.StandardOutput, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AKeyShorterThan32Characters_IsRefused()
    {
        var run = await SnapshotWith("[ { name: 'shipping' } ]", "{ shipping: 'too-short-a-key' }");

        Assert.Null(run.Snapshot);
        Assert.Contains("'signingKey' is not valid. Length of the value should be greater than or equal to '32'", run.Run.StandardError + run.Run.StandardOutput, StringComparison.Ordinal);
        Assert.DoesNotContain("too-short-a-key", run.Run.StandardError + run.Run.StandardOutput, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TheParticipantName_Payments_IsRefused_WhenTheAppRunsThePaymentsSagaParticipant()
    {
        var parameters = TestParameters.Required();
        parameters["externalParticipants"] = "[ { name: 'payments' } ]";
        parameters["externalParticipantSigningKeys"] = $"{{ payments: '{Key}' }}";
        parameters["paymentsUrl"] = TestParameters.Literal(TestParameters.PaymentsUrl);
        parameters["paymentsApiKey"] = TestParameters.Literal(TestParameters.PaymentsApiKey);

        var run = await BicepSnapshot.OfMainAsync(parameters);

        Assert.Null(run.Snapshot);
        Assert.Contains("'payments' is the app's own saga participant for the payment service", run.Run.StandardError + run.Run.StandardOutput, StringComparison.Ordinal);
    }

    // The kit's timer function runs on the coordinator's schedule, whatever it is.
    [Fact]
    public async Task TheParticipantApp_TakesTheCoordinatorsInDoubtSchedule()
    {
        const string schedule = "0 */5 * * * *";
        var parameters = TestParameters.Required();
        parameters["externalParticipants"] = "[ { name: 'shipping' } ]";
        parameters["externalParticipantSigningKeys"] = $"{{ shipping: '{Key}' }}";
        parameters["inDoubtSchedule"] = TestParameters.Literal(schedule);

        var snapshot = (await BicepSnapshot.OfMainAsync(parameters)).Succeeded;

        Assert.All(snapshot.OfType(DeploymentSnapshot.SiteType), site => Assert.Equal(schedule, site.AppSettings["TRANSACTIONS_IN_DOUBT_SCHEDULE"]));
        Assert.Equal(2, snapshot.OfType(DeploymentSnapshot.SiteType).Count());
    }

    // infra/shipping.bicepparam, the README's example, deploys the coordinator with shipping from environment variables.
    [Fact]
    public async Task TheExampleParametersFile_DeploysShipping()
    {
        var text = await File.ReadAllTextAsync(Path.Combine(Repository.Root, "infra", "shipping.bicepparam"));
        var environment = new Dictionary<string, string>
        {
            ["API_KEY"] = TestParameters.ApiKey,
            ["SIGNING_KEY"] = TestParameters.SigningKey,
            ["SHIPPING_SIGNING_KEY"] = TestParameters.ShippingSigningKey,
        };

        var snapshot = (await BicepSnapshot.OfParametersFileAsync(text, environment)).Succeeded;

        Assert.Contains(snapshot.OfType(DeploymentSnapshot.SiteType), s => s.Name.StartsWith("tx2pc-shipping-func-", StringComparison.Ordinal));
        Assert.Equal(TestParameters.ShippingSigningKey, snapshot.Named(KeyVaultTests.SecretType, "participant-shipping-signing-key").Properties?["value"]?.ToString());
        var coordinator = Assert.Single(snapshot.OfType(DeploymentSnapshot.SiteType), s => s.Name.StartsWith("tx2pc-func-", StringComparison.Ordinal));
        Assert.Equal(Repository.SampleSettingValues()["PARTICIPANT_SHIPPING_KINDS"], coordinator.AppSettings["PARTICIPANT_SHIPPING_KINDS"]);
    }

    private static Task<SnapshotRun> SnapshotWith(string externalParticipants, string signingKeys)
    {
        var parameters = TestParameters.Required();
        parameters["externalParticipants"] = externalParticipants;
        parameters["externalParticipantSigningKeys"] = signingKeys;
        return BicepSnapshot.OfMainAsync(parameters);
    }
}
