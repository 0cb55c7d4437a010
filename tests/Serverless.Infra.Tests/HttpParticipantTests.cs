using Serverless.Infra.Tests.Arm;
using Serverless.Infra.Tests.Snapshot;
using Xunit;

namespace Serverless.Infra.Tests;

/// <summary>
/// An HTTP participant (a service in any language another team deploys, here loyalty): the coordinator's settings for it
/// (<c>PARTICIPANT_{NAME}_URL</c>, <c>_KINDS</c>, <c>_SIGNING_KEY</c>) and its key in Key Vault, which only the coordinator
/// reads; and nothing else deployed for it.
/// </summary>
[Collection(MainTemplateCollection.Name)]
public sealed class HttpParticipantTests(SampleDeploymentFixture deployment, DefaultDeploymentFixture withoutParticipants)
{
    private const string Participant = SampleDeploymentFixture.HttpParticipant;

    private DeploymentSnapshot Snapshot => deployment.Snapshot;

    private IReadOnlyDictionary<string, string> CoordinatorSettings => deployment.CoordinatorApp.AppSettings;

    private PredictedResource Secret => Snapshot.Named(KeyVaultTests.SecretType, $"participant-{Participant}-signing-key");

    [Fact]
    public void CoordinatorApp_PostsItsCommandsToItsUrl_AndTakesTheKindsGiven()
    {
        Assert.Equal(TestParameters.LoyaltyUrl, CoordinatorSettings["PARTICIPANT_LOYALTY_URL"]);
        Assert.Equal("tcc", CoordinatorSettings["PARTICIPANT_LOYALTY_KINDS"]);
    }

    [Fact]
    public void CoordinatorApp_ReadsItsKeyThroughAKeyVaultReference()
    {
        KeyVaultReference.AssertPointsTo(CoordinatorSettings["PARTICIPANT_LOYALTY_SIGNING_KEY"], Secret);

        // The key is in its secret and nowhere else.
        Assert.Equal(TestParameters.LoyaltySigningKey, ArmScope.AsString(Secret.Properties?["value"]));
        Assert.Single(Snapshot.Resources, r => r.Json.ToJsonString().Contains(TestParameters.LoyaltySigningKey, StringComparison.Ordinal));
    }

    // The service is not deployed here, so no identity of it exists: the coordinator's identity alone may read its key, on
    // the secret only.
    [Fact]
    public void SigningKey_MayBeReadByTheCoordinatorAlone()
    {
        var vault = Snapshot.OfType("Microsoft.KeyVault/vaults").Single().Id;
        var readers = Snapshot.RoleAssignments
            .Where(a => a.Scope == Secret.Id || a.Scope == vault || a.Scope == BicepSnapshot.ResourceGroupId)
            .ToList();

        var reader = Assert.Single(readers);
        Assert.Equal(Secret.Id, reader.Scope);
        Assert.Equal(KeyVaultTests.SecretsUser, reader.RoleId);
        Assert.Equal("ServicePrincipal", reader.PrincipalType);
        Assert.Equal(DeploymentFixture.IdentityOf(deployment.CoordinatorApp), reader.PrincipalIdentityId);
    }

    // Its commands go over HTTP: no inbox queue, no app, no identity, no storage of its own. The app knows it by its URL
    // setting, so it is not added to TRANSACTIONS_PARTICIPANTS (whose entries are reached in the app or by queue).
    [Fact]
    public void NothingButItsKeyAndSettings_IsDeployedForIt()
    {
        Assert.DoesNotContain(Snapshot.OfType("Microsoft.Storage/storageAccounts/queueServices/queues"), q => q.Name.Contains(Participant, StringComparison.Ordinal));
        Assert.DoesNotContain(
            Snapshot.Resources,
            r => r.Type is not KeyVaultTests.SecretType and not DeploymentSnapshot.RoleAssignmentType && r.Name.Contains(Participant, StringComparison.Ordinal));
        Assert.DoesNotContain(Participant, CoordinatorSettings["TRANSACTIONS_PARTICIPANTS"].Split(','));
    }

    [Fact]
    public void WithoutHttpParticipants_TheCoordinatorHasNoParticipantUrls()
    {
        Assert.DoesNotContain(withoutParticipants.CoordinatorApp.AppSettings.Keys, k => k.StartsWith("PARTICIPANT_", StringComparison.Ordinal));
    }
}
