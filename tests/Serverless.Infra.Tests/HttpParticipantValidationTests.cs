using Serverless.Infra.Tests.Snapshot;
using Xunit;

namespace Serverless.Infra.Tests;

/// <summary>
/// What main.bicep refuses of <c>httpParticipants</c> before anything is deployed: a name that is not a participant name,
/// is given twice or is already reached another way, a URL that is not https, a kind that is not 2pc or tcc, a missing
/// or short key; and how it writes what it accepts.
/// </summary>
public sealed class HttpParticipantValidationTests
{
    private const string Key = TestParameters.LoyaltySigningKey;
    private const string Url = TestParameters.LoyaltyUrl;

    public static TheoryData<string, string> RefusedNames => new()
    {
        { "Loyalty", "'Loyalty' is not a participant name" },
        { "loy_alty", "'loy_alty' is not a participant name" },
        { "-loyalty", "'-loyalty' is not a participant name" },
        { "loy--alty", "'loy--alty' is not a participant name" },
        { "bank", "'bank' is also in participants" },
    };

    [Theory]
    [MemberData(nameof(RefusedNames))]
    public async Task AnInvalidName_IsRefused(string name, string reason)
    {
        var run = await SnapshotWith($"[ {{ name: '{name}', url: '{Url}' }} ]", $"{{ '{name}': '{Key}' }}");

        AssertRefused(run, "httpParticipants: " + reason);
    }

    [Fact]
    public async Task ANameAlsoInExternalParticipants_IsRefused()
    {
        var run = await SnapshotWith(
            $"[ {{ name: 'shipping', url: '{Url}' }} ]",
            $"{{ shipping: '{Key}' }}",
            ("externalParticipants", "[ { name: 'shipping' } ]"));

        AssertRefused(run, "'shipping' is also in externalParticipants: a participant is reached over HTTP or through its queue, not both");
    }

    [Fact]
    public async Task AParticipantGivenTwice_IsRefused()
    {
        var run = await SnapshotWith($"[ {{ name: 'loyalty', url: '{Url}' }}, {{ name: 'loyalty', url: '{Url}' }} ]", $"{{ loyalty: '{Key}' }}");

        AssertRefused(run, "httpParticipants names a participant twice");
    }

    [Fact]
    public async Task TheName_Payments_IsRefused_WhenTheAppRunsThePaymentsSagaParticipant()
    {
        var run = await SnapshotWith(
            $"[ {{ name: 'payments', url: '{Url}' }} ]",
            $"{{ payments: '{Key}' }}",
            ("paymentsUrl", TestParameters.Literal(TestParameters.PaymentsUrl)),
            ("paymentsApiKey", TestParameters.Literal(TestParameters.PaymentsApiKey)));

        AssertRefused(run, "'payments' is the app's own saga participant for the payment service");
    }

    // The command and its operation cross the internet: the signature proves who wrote it, only TLS keeps it private.
    [Theory]
    [InlineData("http://loyalty.example.com/tx")]
    [InlineData("https:///tx")]
    [InlineData("https://loyalty example/tx")]
    [InlineData("ftp://loyalty.example.com/tx")]
    public async Task AUrlThatIsNotAnAbsoluteHttpsUrl_IsRefused(string url)
    {
        var run = await SnapshotWith($"[ {{ name: 'loyalty', url: '{url}' }} ]", $"{{ loyalty: '{Key}' }}");

        AssertRefused(run, $"httpParticipants: the url of 'loyalty' is '{url}', not an absolute https URL");
    }

    [Fact]
    public async Task AKindOtherThan2pcOrTcc_IsRefusedByTheCompiler()
    {
        var run = await SnapshotWith($"[ {{ name: 'loyalty', url: '{Url}', kinds: [ 'saga' ] }} ]", $"{{ loyalty: '{Key}' }}");

        Assert.Null(run.Snapshot);
        Assert.Contains("BCP034", run.Run.StandardError + run.Run.StandardOutput, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AParticipantWithoutAKey_IsRefused()
    {
        var run = await SnapshotWith($"[ {{ name: 'loyalty', url: '{Url}' }} ]", $"{{ other: '{Key}' }}");

        AssertRefused(run, "externalParticipantSigningKeys has no key for the HTTP participant 'loyalty'");
    }

    [Fact]
    public async Task AKeyShorterThan32Characters_IsRefused()
    {
        var run = await SnapshotWith($"[ {{ name: 'loyalty', url: '{Url}' }} ]", "{ loyalty: 'too-short-a-key' }");

        AssertRefused(run, "'signingKey' is not valid. Length of the value should be greater than or equal to '32'");
        Assert.DoesNotContain("too-short-a-key", run.Run.StandardError + run.Run.StandardOutput, StringComparison.Ordinal);
    }

    // Without kinds the setting is not written (the app's default, 2pc and tcc, applies); kinds given twice are written once.
    [Fact]
    public async Task Kinds_AreWrittenOnlyWhenGiven_EachOnce()
    {
        var run = await SnapshotWith(
            $"[ {{ name: 'loyalty', url: '{Url}' }}, {{ name: 'points', url: 'https://points.example.com/tx', kinds: [ 'tcc', '2pc', 'tcc' ] }} ]",
            $"{{ loyalty: '{Key}', points: '{Key}' }}");

        var settings = Assert.Single(run.Succeeded.OfType(DeploymentSnapshot.SiteType)).AppSettings;
        Assert.DoesNotContain("PARTICIPANT_LOYALTY_KINDS", settings.Keys);
        Assert.Equal(Url, settings["PARTICIPANT_LOYALTY_URL"]);
        Assert.Equal("tcc,2pc", settings["PARTICIPANT_POINTS_KINDS"]);
        Assert.Equal("https://points.example.com/tx", settings["PARTICIPANT_POINTS_URL"]);
    }

    private static void AssertRefused(SnapshotRun run, string message)
    {
        Assert.Null(run.Snapshot);
        Assert.Contains(message, run.Run.StandardError + run.Run.StandardOutput, StringComparison.Ordinal);
    }

    private static Task<SnapshotRun> SnapshotWith(string httpParticipants, string signingKeys, params (string Name, string Value)[] more)
    {
        var parameters = TestParameters.Required();
        parameters["httpParticipants"] = httpParticipants;
        parameters["externalParticipantSigningKeys"] = signingKeys;
        foreach (var (name, value) in more)
        {
            parameters[name] = value;
        }

        return BicepSnapshot.OfMainAsync(parameters);
    }
}
